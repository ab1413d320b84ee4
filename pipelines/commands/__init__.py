"""One module per `segcap` command group; each defines `register(app)`.

Keep heavy imports (torch, ray, transformers) inside the command functions so that
`segcap --help` stays fast.
"""
