"""The AdmissionReview ``admission.k8s.io/v1`` protocol between the HTTP shell and the core."""
