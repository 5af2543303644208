"""The PostgreSQL endpoint with the clients analysts use: psycopg 3, SQLAlchemy (as Superset uses
it) and pandas, against `hotline serve --pg 127.0.0.1:0` over a warehouse built from the sample.

Usage: clients.py HOTLINE_BIN WAREHOUSE. Checks, each an assertion:
- psycopg signs in (SCRAM-SHA-256) and fetches with server-side parameters the count `hotline sql`
  gives; a named query runs as a table function;
- SQLAlchemy's inspector lists the analyst's tables through pg_catalog (no restricted one) and
  reflects their columns, keys and indexes as Superset does; information_schema lists the same
  columns; pandas reads a parameterised query through it;
- pgjdbc (DBeaver's and Metabase's driver) lists tables, columns, keys and indexes and runs a prepared count;
- a wrong password is SQLSTATE 28P01; DDL is refused (25006);
- 200 connections at once: each is served or refused with 53300, and the server answers after;
- garbage bytes and a client that leaves mid-query disturb nobody.
"""

import concurrent.futures
import os
import re
import socket
import subprocess
import sys
import time

import pandas as pd
import psycopg
import sqlalchemy as sa

BIN, WAREHOUSE = sys.argv[1], sys.argv[2]
JDBC_SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Jdbc.java")
PASSWORD = "analyst password"


def hotline(*args, stdin=None):
    out = subprocess.run([BIN, *args, "--warehouse", WAREHOUSE], input=stdin, capture_output=True, text=True)
    assert out.returncode == 0, f"hotline {args}: {out.stderr}"
    return out.stdout


def main():
    users = f"{WAREHOUSE}/pg-users.toml"
    hotline("users", "add", "li", "--role", "analyst", "--users", users, stdin=PASSWORD + "\n")
    server = subprocess.Popen(
        [BIN, "serve", "--pg", "127.0.0.1:0", "--warehouse", WAREHOUSE, "--users", users, "--max-connections", "32"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()
        match = re.search(r"on 127\.0\.0\.1:(\d+)", line)
        assert match, f"no address in {line!r}"
        run(int(match.group(1)))
    finally:
        server.terminate()
        server.wait(timeout=30)


def connect(port, password=PASSWORD, **kw):
    return psycopg.connect(host="127.0.0.1", port=port, user="li", password=password, dbname="hotline",
                           sslmode="disable", connect_timeout=30, **kw)


def run(port):
    expected = hotline("sql", "SELECT district, count(*) AS n FROM calls WHERE district IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
                       "--format", "csv").splitlines()[1]
    district, count = expected.rsplit(",", 1)

    # psycopg: server-side parameters (the extended protocol), and a named query as a table function.
    with connect(port) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM calls WHERE district = %s", (district,))
            assert cur.fetchone()[0] == int(count), "a parameterised count differs from hotline sql"
        with psycopg.ClientCursor(conn) as cur:
            cur.execute("SELECT * FROM q_daily_volume(%s, %s)", ("2023-07", "2023-07"))
            rows = cur.fetchall()
            names = [d.name for d in cur.description]
            assert rows and names[0] == "day", names
    print(f"psycopg: parameterised count {count} for one district; q_daily_volume gave {len(rows)} rows")

    # SQLAlchemy as Superset uses it: introspection through pg_catalog, then pandas.
    engine = sa.create_engine(f"postgresql+psycopg://li:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}/hotline",
                              connect_args={"sslmode": "disable"})
    inspector = sa.inspect(engine)
    assert inspector.get_schema_names() == ["public"], inspector.get_schema_names()
    tables = inspector.get_table_names()
    assert "calls" in tables and "entities" in tables, tables
    assert not any("pii" in t for t in tables), f"an analyst sees a restricted table: {tables}"
    # Reflection as Superset runs it when a dataset is added and SQL Lab previews a table: columns
    # with their types, keys, indexes; the whole table at once; a restricted table is not there.
    columns = {c["name"]: c for c in inspector.get_columns("calls")}
    assert {"call_id", "district", "category", "received_at"} <= set(columns), columns
    assert str(columns["received_at"]["type"]).startswith("TIMESTAMP"), columns["received_at"]
    assert inspector.get_pk_constraint("calls")["constrained_columns"] == []
    assert inspector.get_foreign_keys("calls") == [] and inspector.get_indexes("calls") == []
    assert inspector.get_unique_constraints("calls") == []
    table = sa.Table("calls", sa.MetaData(), autoload_with=engine)
    assert [c.name for c in table.columns] == list(columns), "autoload and get_columns disagree"
    try:
        inspector.get_columns("calls_pii")
        raise AssertionError("an analyst reflected a restricted table")
    except sa.exc.NoSuchTableError:
        pass
    # Columns as other tools read them, from information_schema.
    with engine.connect() as conn:
        columns = {r[0] for r in conn.execute(sa.text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": "calls"})}
        hidden = conn.execute(sa.text(
            "SELECT count(*) FROM information_schema.columns WHERE table_name LIKE '%pii%'")).scalar()
    assert {"call_id", "district", "category"} <= columns, columns
    assert hidden == 0, "an analyst sees a restricted table's columns"
    frame = pd.read_sql(sa.text("SELECT district, count(*) AS n FROM calls WHERE district = :d GROUP BY 1"),
                        engine, params={"d": district})
    assert int(frame["n"].iloc[0]) == int(count), frame
    engine.dispose()
    print(f"SQLAlchemy: {len(tables)} tables, none restricted; calls reflected with {len(columns)} columns; "
          f"pandas read {len(frame)} row(s)")

    # pgjdbc (Debian's libpostgresql-jdbc-java), as DBeaver and Metabase connect.
    jdbc = subprocess.run(["java", "-cp", "/usr/share/java/postgresql.jar", JDBC_SOURCE, str(port), "li",
                           PASSWORD, district, count], capture_output=True, text=True, timeout=300)
    assert jdbc.returncode == 0, f"pgjdbc: {jdbc.stderr[-3000:]}"
    print(jdbc.stdout.strip())

    # Refusals with the codes clients expect.
    try:
        connect(port, password="wrong password")
        raise AssertionError("a wrong password signed in")
    except psycopg.OperationalError as e:
        assert "password authentication failed" in str(e), e
    with connect(port) as conn:
        try:
            conn.execute("CREATE TABLE stolen AS SELECT * FROM calls")
            raise AssertionError("DDL ran")
        except psycopg.Error as e:
            assert e.sqlstate == "25006", (e.sqlstate, e)
    # A cross join of billions of pairs, with a parameter (the extended protocol), is refused
    # before it runs: once running it could not be stopped at its time limit.
    with connect(port) as conn:
        try:
            conn.execute("SELECT a.call_id, count(*) FROM calls a CROSS JOIN calls b CROSS JOIN calls c "
                         "WHERE a.call_id <> %s GROUP BY 1", ("none",))
            raise AssertionError("a cross join of billions of pairs ran")
        except psycopg.Error as e:
            assert e.sqlstate == "54000", (e.sqlstate, e)

    # 200 connections at once.
    def one(_):
        try:
            with connect(port) as conn:
                return conn.execute("SELECT count(*) FROM calls").fetchone()[0]
        except psycopg.OperationalError as e:
            return str(e)
    with concurrent.futures.ThreadPoolExecutor(200) as pool:
        results = list(pool.map(one, range(200)))
    served = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if not isinstance(r, int)]
    assert served and all(r == served[0] for r in served), results[:5]
    assert all("too many clients" in r for r in refused), refused[:3]
    print(f"200 at once: {len(served)} served, {len(refused)} refused with 53300")

    # Garbage bytes, and a client that leaves mid-query.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"\x00\x00\x00\x08\xde\xad\xbe\xef" + bytes(range(256)) * 10)
        time.sleep(0.2)
    conn = connect(port)
    conn.pgconn.send_query(b"SELECT a.call_id, count(*) FROM calls a CROSS JOIN calls b GROUP BY 1")
    time.sleep(0.5)
    conn.pgconn.finish()
    with connect(port) as conn:
        assert conn.execute("SELECT 1").fetchone()[0] == 1
    print("garbage and a client leaving mid-query: the server still answers")


if __name__ == "__main__":
    main()
