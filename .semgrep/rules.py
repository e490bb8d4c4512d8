# Cases for `semgrep --test .semgrep/` (run by `make gates`): each `ruleid:` line must be found,
# each `ok:` line must not. Never imported; excluded from ruff.
import os
import pickle
import subprocess

import flask
import yaml
from flask import Markup as FlaskMarkup
from flask import render_template_string, request, send_file
from markupsafe import Markup
from sqlalchemy import text


def cases(name: str, conn, cur, data: bytes, app) -> None:
    # ruleid: render-template-string
    render_template_string("<p>{{ x }}</p>" + name)
    # ok: render-template-string
    flask.render_template("page.html", name=name)

    # ruleid: markup-of-non-literal
    Markup(name)
    # ruleid: markup-of-non-literal
    FlaskMarkup(request.args["q"])
    # ok: markup-of-non-literal
    Markup("<b>%s</b>") % name
    # ok: markup-of-non-literal
    Markup("<option>{}</option>").format(name)

    # ruleid: sql-text-built-from-strings
    text(f"SELECT * FROM t WHERE name = '{name}'")
    # ruleid: sql-text-built-from-strings
    text("SELECT * FROM t WHERE name = '%s'" % name)
    # ruleid: sql-text-built-from-strings
    text("SELECT * FROM t WHERE name = '{}'".format(name))
    # ruleid: sql-text-built-from-strings
    cur.execute(f"DELETE FROM t WHERE id = {name}")
    # ruleid: sql-text-built-from-strings
    conn.exec_driver_sql(f"ANALYZE {name}")
    # ok: sql-text-built-from-strings
    text("SELECT * FROM t WHERE name = :name").bindparams(name=name)

    # ruleid: subprocess-with-shell
    subprocess.run("ls " + name, shell=True)
    # ruleid: subprocess-with-shell
    os.system("ls " + name)
    # ok: subprocess-with-shell
    subprocess.run(["ls", name], check=True)

    # ruleid: unsafe-deserialisation
    pickle.loads(data)

    # ruleid: yaml-load-without-safe-loader
    yaml.load(data)
    # ruleid: yaml-load-without-safe-loader
    yaml.load(data, Loader=yaml.Loader)
    # ok: yaml-load-without-safe-loader
    yaml.load(data, Loader=yaml.SafeLoader)
    # ok: yaml-load-without-safe-loader
    yaml.safe_load(data)

    # ruleid: eval-or-exec
    eval(name)

    # ruleid: flask-debug-mode
    app.run(debug=True)


def download() -> object:
    wanted = request.args.get("name", "")
    # ruleid: send-file-of-a-request-value
    return send_file(os.path.join("/srv/uploads", wanted))


def download_by_id() -> object:
    stored = {"1": "/srv/uploads/a.pdf"}
    # ok: send-file-of-a-request-value
    return send_file(stored["1"])
