"""One module per `segcap` command (run.py holds run and serve); each defines `register(app)`.

`flows.cli` lists them and builds the one app. Keep heavy imports (torch, ray, transformers,
Prefect) inside the command functions so that `segcap --help` stays fast.
"""
