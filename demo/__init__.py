"""`make demo`: the whole story on one machine (see `demo.__main__`)."""
