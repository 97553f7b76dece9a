"""Expands a Grafana PostgreSQL panel query the way Grafana (10.x/11.x) does before the datasource
runs it, so a test can run the result with psql.

Grafana expands in three passes, and so does `expand()`:
1. Template variables (frontend templateSrv): `$name`, `${name}` and `[[name]]`. A variable that is
   multi-value or has "All" becomes its values as single-quoted SQL literals (' doubled), joined
   with ','; a single-value variable is inserted with ' doubled and no quotes. Formats
   (`${name:csv}` ...) are not used by our dashboards and are refused. "All" without a custom
   all-value means every option. The built-ins `$__interval`, `$__interval_ms`, `$__from` and
   `$__to` (epoch ms) are replaced here too.
2. sqleng.Interpolate (backend): `$__interval_ms`, `$__interval`, `$__unixEpochFrom()`,
   `$__unixEpochTo()` (epoch seconds).
3. The postgres macro engine: every `$name(args)` matching `\\$([_a-zA-Z0-9]+)\\(([^\\)]*)\\)`
   (arguments end at the first ')', split at ',' and trimmed) is one of
     $__time(c)              c AS "time"
     $__timeEpoch(c)         extract(epoch from c) as "time"
     $__timeFilter(c)        c BETWEEN '<from RFC 3339>' AND '<to RFC 3339>'
     $__timeFrom() / $__timeTo()     '<RFC 3339>'
     $__timeGroup(c,i[,fill])        floor(extract(epoch from c)/<s>)*<s>
     $__timeGroupAlias(c,i[,fill])   the same + AS "time"
     $__unixEpochFilter(c)   c >= <from s> AND c <= <to s>
     $__unixEpochNanoFilter(c), $__unixEpochNanoFrom(), $__unixEpochNanoTo()   in ns
     $__unixEpochGroup(c,i[,fill])   floor((c)/<s>)*<s>
     $__unixEpochGroupAlias(c,i[,fill])  the same + AS "time"
   and any other name is an error, as in Grafana ("unknown macro"). Like Grafana, a
   `$__timeGroup(...)` directly followed by ',' is treated as `$__timeGroupAlias`.
After expansion any `$word` or `[[` left outside string literals is an error: Grafana would send
it to PostgreSQL verbatim.
"""
import datetime
import re

MACRO_RE = re.compile(r"\$([_a-zA-Z0-9]+)\(([^\)]*)\)")
VAR_RE = re.compile(r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?::([^\}]+))?\}")
INTERVAL_RE = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class ExpansionError(Exception):
    pass


def parse_interval(text):
    m = INTERVAL_RE.match(text.strip().strip("'"))
    if not m:
        raise ExpansionError(f"error parsing interval {text}")
    return int(m.group(1)) * UNIT_SECONDS[m.group(2)]


def go_float(x):
    """Go's %v for a float64 (shortest form; integral values without a point)."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def rfc3339(t):
    """Go's time.RFC3339Nano in UTC: fraction without trailing zeros, 'Z'."""
    t = t.astimezone(datetime.timezone.utc)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        text += ("." + f"{t.microsecond:06d}").rstrip("0")
    return text + "Z"


def quote_literal(v):
    return "'" + str(v).replace("'", "''") + "'"


class Expander:
    def __init__(self, time_from, time_to, interval="1m", variables=None):
        """time_from/time_to: aware datetimes; interval: what Grafana computed for the panel;
        variables: name -> {"values": [...], "multi": bool, "includeAll": bool}."""
        self.time_from, self.time_to = time_from, time_to
        self.interval = interval
        self.variables = variables or {}
        self.used_macros = set()

    def _variable(self, name, fmt=None):
        if fmt:
            raise ExpansionError(f"variable format ${{{name}:{fmt}}} is not supported by this expander")
        builtins = {"__interval": self.interval, "__interval_ms": str(int(parse_interval(self.interval) * 1000)),
                    "__from": str(int(self.time_from.timestamp() * 1000)),
                    "__to": str(int(self.time_to.timestamp() * 1000))}
        if name in builtins:
            return builtins[name]
        var = self.variables.get(name)
        if var is None:
            return None
        if var.get("multi") or var.get("includeAll"):
            return ",".join(quote_literal(v) for v in var["values"])
        return str(var["values"][0]).replace("'", "''")

    def _templates(self, sql):
        def repl(m):
            name = m.group(1) or m.group(2) or m.group(4)
            fmt = m.group(3) or m.group(5)
            value = self._variable(name, fmt)
            return m.group(0) if value is None else value
        return VAR_RE.sub(repl, sql)

    def _backend_globals(self, sql):
        sql = sql.replace("$__interval_ms", str(int(parse_interval(self.interval) * 1000)))
        sql = sql.replace("$__interval", self.interval)
        sql = sql.replace("$__unixEpochFrom()", str(int(self.time_from.timestamp())))
        return sql.replace("$__unixEpochTo()", str(int(self.time_to.timestamp())))

    def _macro(self, name, args):
        self.used_macros.add(name)
        frm, to = self.time_from, self.time_to

        def need_column():
            if not args or not args[0]:
                raise ExpansionError(f"missing time column argument for macro {name}")
            return args[0]

        def group_seconds():
            if len(args) < 2:
                raise ExpansionError(f"macro {name} needs time column and interval and optional fill value")
            return go_float(parse_interval(args[1]))

        if name == "__time":
            return f'{need_column()} AS "time"'
        if name == "__timeEpoch":
            return f'extract(epoch from {need_column()}) as "time"'
        if name == "__timeFilter":
            return f"{need_column()} BETWEEN '{rfc3339(frm)}' AND '{rfc3339(to)}'"
        if name == "__timeFrom":
            return f"'{rfc3339(frm)}'"
        if name == "__timeTo":
            return f"'{rfc3339(to)}'"
        if name in ("__timeGroup", "__timeGroupAlias"):
            s = group_seconds()
            out = f"floor(extract(epoch from {args[0]})/{s})*{s}"
            return out + ' AS "time"' if name == "__timeGroupAlias" else out
        if name == "__unixEpochFilter":
            c = need_column()
            return f"{c} >= {int(frm.timestamp())} AND {c} <= {int(to.timestamp())}"
        if name == "__unixEpochNanoFilter":
            c = need_column()
            return f"{c} >= {int(frm.timestamp() * 1e9)} AND {c} <= {int(to.timestamp() * 1e9)}"
        if name == "__unixEpochNanoFrom":
            return str(int(frm.timestamp() * 1e9))
        if name == "__unixEpochNanoTo":
            return str(int(to.timestamp() * 1e9))
        if name in ("__unixEpochGroup", "__unixEpochGroupAlias"):
            s = group_seconds()
            out = f"floor(({args[0]})/{s})*{s}"
            return out + ' AS "time"' if name == "__unixEpochGroupAlias" else out
        raise ExpansionError(f'unknown macro "{name}"')

    def _macros(self, sql):
        def repl(m):
            name = m.group(1)
            if name == "__timeGroup":
                end = sql.find(m.group(0)) + len(m.group(0))
                if end < len(sql) and sql[end] == ",":
                    name = "__timeGroupAlias"
            return self._macro(name, [a.strip(" ") for a in m.group(2).split(",")])
        return MACRO_RE.sub(repl, sql)

    def expand(self, sql):
        out = self._macros(self._backend_globals(self._templates(sql)))
        unquoted = re.sub(r"'(?:[^']|'')*'", "''", out)
        left = re.search(r"\$\w+|\$\{|\[\[", unquoted)
        if left:
            raise ExpansionError(f"unexpanded {left.group(0)!r} in: {out}")
        return out
