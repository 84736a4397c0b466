"""The floor of the catalogue's read routes (run as its own process by catalogue_bench):
a bare FastAPI route doing the same bearer-key check, a raw ``sqlite3`` read of the
same rows and ``json.dumps`` of the same answer.  Not this project's code.

    BARE_DB=path BARE_KEY_HASH=sha256 BARE_PORT=port python bench/serving_floor.py
"""

import hashlib
import json
import os
import sqlite3
import threading

import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import Response
from fastapi.security import HTTPBearer

P = "/v1/modules/scaipersona"
KEYS = {os.environ["BARE_KEY_HASH"]: os.environ.get("BARE_TENANT_ID", "")}
PERSONA_JSON = ("rag_status_messages", "default_params", "metadata")
PERSONA_BOOLS = ("rag_enabled", "published")
TIMES = ("created_at", "updated_at")
bearer = HTTPBearer(auto_error=False)
app = FastAPI()
local = threading.local()


def db() -> sqlite3.Connection:
    if not hasattr(local, "db"):
        local.db = sqlite3.connect(os.environ["BARE_DB"])
        local.db.row_factory = sqlite3.Row
    return local.db


def caller(credentials=Depends(bearer)) -> str:
    tenant = credentials and KEYS.get(hashlib.sha256(credentials.credentials.encode()).hexdigest())
    if tenant is None:
        raise HTTPException(401)
    return tenant


def stamp(text: str) -> str:
    return text.replace(" ", "T") + "Z"


def source(row: sqlite3.Row, persona_id: str) -> dict:
    out = {k: row[k] for k in row.keys() if k not in ("pk", "persona_pk")}  # noqa: SIM118
    out["persona_id"] = persona_id
    out["search_config"] = json.loads(out["search_config"]) if out["search_config"] else None
    for k in TIMES:
        out[k] = stamp(out[k])
    return out


def personas(con: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[dict]:
    pks = [r["pk"] for r in rows]
    marks = ",".join("?" * len(pks))
    by_pk: dict[int, list] = {pk: [] for pk in pks}
    for s in con.execute(
        f"SELECT * FROM persona_sources WHERE persona_pk IN ({marks}) ORDER BY pk", pks
    ):
        by_pk[s["persona_pk"]].append(s)
    shas = dict(
        con.execute(f"SELECT persona_pk, sha256 FROM avatars WHERE persona_pk IN ({marks})", pks)
    )
    out = []
    for r in rows:
        item = {k: r[k] for k in r.keys() if k != "pk"}  # noqa: SIM118
        for k in PERSONA_JSON:
            item[k] = json.loads(item[k]) if item[k] is not None else None
        for k in PERSONA_BOOLS:
            item[k] = bool(item[k])
        for k in TIMES:
            item[k] = stamp(item[k])
        item["sources"] = [source(s, r["id"]) for s in by_pk[r["pk"]]]
        item["avatar_sha256"] = shas.get(r["pk"])
        out.append(item)
    return out


@app.get(P + "/personas")
def list_personas(limit: int = Query(50, ge=1, le=200), tenant: str = Depends(caller)):
    con = db()
    rows = con.execute(
        "SELECT * FROM personas WHERE tenant_id = ? ORDER BY pk LIMIT ?", (tenant, limit + 1)
    ).fetchall()
    more = len(rows) > limit
    body = {
        "data": personas(con, rows[:limit]),
        "meta": {"next_cursor": None, "has_more": more, "request_id": None},
    }
    return Response(json.dumps(body), media_type="application/json")


@app.get(P + "/personas/{persona_id}")
def get_persona(persona_id: str, tenant: str = Depends(caller)):
    con = db()
    rows = con.execute(
        "SELECT * FROM personas WHERE id = ? AND tenant_id = ?", (persona_id, tenant)
    ).fetchall()
    if not rows:
        raise HTTPException(404)
    return Response(json.dumps({"data": personas(con, rows)[0]}), media_type="application/json")


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BARE_PORT"]), log_level="warning")
