"""Patrol: building inspection patrols, offline on the phone, filed each month."""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from . import auth, checklists, cli, config, errors, security, web
from .api import MODULES, api, statuses
from .db_sqlite import engine_options, tune_sqlite
from .extensions import db, migrate
from .jsonio import OrjsonProvider

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app: configuration, extensions, blueprints, errors, commands."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    app.json = OrjsonProvider(app)
    app.config.from_mapping(config.from_env(ROOT))
    if test_config:
        app.config.update(test_config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    """Bind the database, migrations, the API, and load the checklists."""
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}))
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        with app.app_context():
            tune_sqlite(db.engine)
    api.init_app(app)
    checklists.init_app(app)


def register_blueprints(app: Flask) -> None:
    """Register every API resource from one list, then the web pages."""
    for module in MODULES:
        api.register_blueprint(module.blp)
    statuses.document(app, api)
    app.register_blueprint(web.web)


def register_errorhandlers(app: Flask) -> None:
    """One JSON error shape for every error."""
    errors.register(app)


def register_security(app: Flask) -> None:
    """Security headers on every response."""
    auth.init_app(app)
    security.init_app(app)


def register_commands(app: Flask) -> None:
    """Attach the `flask` CLI commands."""
    cli.init_app(app)
