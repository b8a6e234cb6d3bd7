"""One module per profile type: which objects it matches and the patch it plans for them."""
