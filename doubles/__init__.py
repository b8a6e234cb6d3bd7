"""Doubles of the parts the code talks to that cannot run on these machines: a kube-apiserver.

`doubles.kubeapi` is a Kubernetes API double over real HTTP (lists, pages, watches, Status
errors, TokenRequests and TokenReviews, through `doubles.kubeapi_tokens`), and
`doubles.tokenreview` mints and reviews the service-account JWTs it hands out. The tests
(tests/integration/...) and the benchmark (bench/caches.py, bench/kubedouble.py) both use them,
so neither depends on the other's tree.
"""
