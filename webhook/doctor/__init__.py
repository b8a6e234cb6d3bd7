"""``vsi-webhook doctor``: what in the cluster would make storage pods fail, and how to fix it.

`webhook.doctor.cluster` reads (get and list only, plus a TokenRequest with ``--vault``) into the
frozen `webhook.doctor.state`; the checks are pure functions of that state that ask the webhook's
own code (`webhook.core`) and the certificate code (`certs.pki`); `webhook.doctor.vault` runs
``vsi-injector --check`` in-process (`injector.check.preflight.check`); `webhook.doctor.run` puts it
together.
"""
