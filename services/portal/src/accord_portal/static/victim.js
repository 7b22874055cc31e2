// The victim view's components. "Exit this page" is GOV.UK's, with one change: it replaces the
// current history entry instead of adding one, so Back does not come back to the case.
// Nothing here writes to localStorage, sessionStorage, IndexedDB or cookies.
import { ExitThisPage, createAll, initAll } from '/govuk/govuk-frontend.min.js'

class LeaveAtOnce extends ExitThisPage {
  static moduleName = 'quick-exit'

  exitPage () {
    document.body.classList.add('govuk-exit-this-page-hide-content')
    window.location.replace(this.$button.href)
  }
}

initAll()
createAll(LeaveAtOnce)

// A page brought back from the back-forward cache is asked for again, so the server decides
// (after an exit there is no session, and the page says nothing).
window.addEventListener('pageshow', (event) => {
  if (event.persisted) {
    window.location.reload()
  }
})
