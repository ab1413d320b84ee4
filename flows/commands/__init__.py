"""Commands that launch Prefect flows (run, serve, demo, publish); each defines `register(app)`."""
