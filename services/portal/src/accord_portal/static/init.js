// GOV.UK Frontend's components, started once the page is parsed (module scripts are deferred).
import { initAll } from '/govuk/govuk-frontend.min.js'

initAll()
