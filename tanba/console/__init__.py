"""The console: a web dashboard and HTTP API for rights holders, agencies and operators.

``tanba.console.web.create_app(app)`` builds the FastAPI application; ``tanba console``
serves it with uvicorn and ``tanba users add`` creates its users (``tanba.console.cli``).
"""
