"""Keys: get-or-create under the key safety rules, the key files, the LUKS guard, PV look-ups.

``policy`` (read or create each key, never overwrite one, prove every create), ``output``
(atomic 0400 key files, never overwriting one), ``luks`` (cryptsetup: the key must unlock the
volume) and ``kube`` (PVC -> bound PV for key path templates) are independent of each other;
`injector.run` wires them together.
"""
