// Speak Up front-end behaviour. Loaded as an ES module from layout.html:
//   <script type="module" src="/static/js/speakup.js"></script>
// No inline script is needed anywhere (the app's CSP is script-src 'self').
import { initAll } from './nhsuk-frontend.min.js'

const body = document.body

// nhsuk-frontend's own page template sets these classes with an inline
// script; js-enabled.js (a tiny blocking script at the top of <body>) does it
// for us without one. Repeat here in case that file did not run.
body.classList.add('js-enabled')
if ('noModule' in HTMLScriptElement.prototype) {
  body.classList.add('nhsuk-frontend-supported')
}

// Print buttons are rendered with the `hidden` attribute so they never show
// without JavaScript; reveal them and make them print the page.
for (const button of document.querySelectorAll('button[data-print]')) {
  button.hidden = false
  button.addEventListener('click', (event) => {
    event.preventDefault()
    window.print()
  })
}

// A success banner (flash message) would take focus from the error summary
// on the same page; the errors matter more, so let the summary keep it.
if (document.querySelector('.nhsuk-error-summary')) {
  for (const banner of document.querySelectorAll('[data-module="nhsuk-notification-banner"]')) {
    banner.setAttribute('data-disable-auto-focus', 'true')
  }
}

// Initialise every nhsuk-frontend component found on the page
// (character count, header menu, error summary focus, radios, ...).
try {
  initAll()
} catch (error) {
  console.error(error)
}
