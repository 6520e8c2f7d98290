// Loaded as a classic (blocking) script as the first child of <body> so the
// classes are in place before first paint, as nhsuk-frontend's own inline
// snippet does. External file because the CSP forbids inline scripts.
document.body.className += ' js-enabled' + ('noModule' in HTMLScriptElement.prototype ? ' nhsuk-frontend-supported' : '')
