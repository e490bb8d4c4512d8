"""Flask extensions, created unbound; the factory attaches them to an app."""

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from feedback.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()
compress = Compress()
# Storage comes from RATELIMIT_STORAGE_URI: memory by default, Redis when configured so that
# several gunicorn processes share one count.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
