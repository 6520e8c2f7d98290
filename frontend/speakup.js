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

// Copy buttons (e.g. a survey's open link): hidden without JavaScript, where the address is
// in a read-only field to select and copy by hand.
for (const button of document.querySelectorAll('button[data-copy]')) {
  const target = document.querySelector(button.dataset.copy)
  const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`)
  if (!target || !navigator.clipboard) continue
  button.hidden = false
  button.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(target.value || target.textContent)
      if (status) status.textContent = 'Link copied.'
    } catch {
      target.select()
      if (status) status.textContent = 'Press Ctrl+C (or Cmd+C) to copy the selected link.'
    }
  })
}

// Forms that take a moment (making thousands of invitation codes): say so while it runs.
for (const form of document.querySelectorAll('form[data-busy]')) {
  form.addEventListener('submit', () => {
    const status = form.querySelector('[data-busy-status]')
    if (!status) return
    status.textContent = form.dataset.busy
    status.hidden = false
    if (form.dataset.busyDone) {
      setTimeout(() => { status.textContent = form.dataset.busyDone }, 6000)
    }
  })
}

// A success banner (flash message) would take focus from the error summary
// on the same page; the errors matter more, so let the summary keep it.
if (document.querySelector('.nhsuk-error-summary')) {
  for (const banner of document.querySelectorAll('[data-module="nhsuk-notification-banner"]')) {
    banner.setAttribute('data-disable-auto-focus', 'true')
  }
}

// Proof of work on the receipt form (core/ratelimit.py): while the service sees many wrong
// receipts, each attempt must carry a solution to the server's challenge, found here by
// hashing. Without JavaScript the form still works whenever no work is asked for.
async function solve (token, bits) {
  const encoder = new TextEncoder()
  for (let counter = 0; ; counter++) {
    const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(`${token}:${counter}`)))
    let zeros = 0
    for (const byte of digest) {
      if (byte === 0) { zeros += 8; continue }
      zeros += Math.clz32(byte) - 24
      break
    }
    if (zeros >= bits) return String(counter)
  }
}

for (const form of document.querySelectorAll('form[data-pow-bits]')) {
  const bits = Number(form.dataset.powBits)
  if (!bits || !window.crypto || !crypto.subtle) continue
  form.addEventListener('submit', async (event) => {
    if (form.dataset.powDone === 'yes') return
    event.preventDefault()
    const status = form.querySelector('[data-pow-status]')
    if (status) status.hidden = false
    const token = form.querySelector('input[name="pow_token"]').value
    form.querySelector('input[name="pow_solution"]').value = await solve(token, bits)
    form.dataset.powDone = 'yes'
    form.submit()
  })
}

// Reveal a group of fields only for some answers of a radio question (the name and contact
// fields, for "confidentially" and "openly"). Without JavaScript they are always shown, with
// a hint saying when to fill them in.
for (const region of document.querySelectorAll('[data-reveal-when]')) {
  const radios = document.querySelectorAll(`input[type="radio"][name="${region.dataset.revealWhen}"]`)
  const values = region.dataset.revealValues.split(' ')
  const sync = () => {
    const chosen = [...radios].find((radio) => radio.checked)
    region.hidden = !(chosen && values.includes(chosen.value))
  }
  for (const radio of radios) radio.addEventListener('change', sync)
  sync()
}

// Copy buttons (the receipt): hidden without JavaScript, as copying needs it.
for (const button of document.querySelectorAll('button[data-copy]')) {
  const source = document.getElementById(button.dataset.copy)
  if (!source || !navigator.clipboard) continue
  button.hidden = false
  button.addEventListener('click', async (event) => {
    event.preventDefault()
    const status = document.getElementById(`${button.dataset.copy}-copied`)
    try {
      await navigator.clipboard.writeText(button.dataset.copyText || source.textContent.trim())
      if (status) status.textContent = 'Copied. Paste it somewhere only you can see.'
    } catch (error) {
      if (status) status.textContent = 'Your browser did not allow copying: write the words down instead.'
    }
  })
}

// A page that must not come back from the browser's back-forward cache (the concern form,
// once sent: its text must not be shown again): load it afresh, so the server decides.
if (document.querySelector('[data-no-back-cache]')) {
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) window.location.reload()
  })
}

// "Go back" on an error page: the browser's own Back keeps what was typed on the form; the
// link (to the form's address) is what works without JavaScript.
for (const link of document.querySelectorAll('a[data-go-back]')) {
  if (window.history.length < 2) continue
  link.addEventListener('click', (event) => {
    event.preventDefault()
    window.history.back()
  })
}

// Initialise every nhsuk-frontend component found on the page
// (character count, header menu, error summary focus, radios, ...).
try {
  initAll()
} catch (error) {
  console.error(error)
}
