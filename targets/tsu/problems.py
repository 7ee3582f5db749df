"""Problem frontends for the tsu target: G-set text, BQM JSON, QUBO and numpy J/h.

Everything becomes an `IsingProblem` (H(s) = -1/2 s^T J s - h^T s + offset, see
`tsuc.runtime.tsu.problem`). The conversions are algebraically exact:

- G-set (Max-Cut, maximise the cut): J_ij = -w_ij, h = 0; cut = (W + sum_(i<j) J_ij s_i s_j) / 2.
- BQM, dimod's convention E(v) = offset + sum_i b_i v_i + sum_(i<j) b_ij v_i v_j (minimised):
  SPIN: h_i = -b_i, J_ij = -b_ij, same offset.
  BINARY (v = x = (1 + s) / 2): h_i = -(b_i / 2 + sum_j b_ij / 4), J_ij = -b_ij / 4,
  offset' = offset + sum_i b_i / 2 + sum_(i<j) b_ij / 4.
- QUBO E(x) = x^T Q x + offset (x in {0, 1}) is the BINARY BQM with b_i = Q_ii and
  b_ij = Q_ij + Q_ji.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

import numpy as np

from tsuc.errors import TsucError
from tsuc.runtime.tsu.problem import IsingProblem

VARTYPES = ("SPIN", "BINARY")
MAX_GSET_NODES = 10_000_000
"""A G-set header promising more nodes is refused before anything is allocated for them."""


# -- G-set ------------------------------------------------------------------------------------


def _parse_number(token: str, path: str, lineno: int, what: str, integer: bool) -> float:
    try:
        value = int(token) if integer else float(token)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise TsucError(f"{path}, line {lineno}: {what} {token!r} is not {kind}") from None
    if not integer and not math.isfinite(value):
        raise TsucError(f"{path}, line {lineno}: {what} {token!r} is not finite")
    return value


def parse_gset(text: str, path: str = "<gset>") -> IsingProblem:
    """Parse G-set text (`N E` header, then `i j w` lines with 1-based nodes) as Max-Cut."""
    lines = text.splitlines()
    numbered = [(k + 1, ln.split()) for k, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith(("#", "%"))]
    if not numbered:
        raise TsucError(f"{path}: the file is empty (expected an `N E` header line)")
    head_no, head = numbered[0]
    if len(head) != 2:
        raise TsucError(f"{path}, line {head_no}: the header must be `N E` (node and edge counts), got {len(head)} field(s)")
    n = int(_parse_number(head[0], path, head_no, "node count", True))
    e = int(_parse_number(head[1], path, head_no, "edge count", True))
    if n < 1 or e < 0:
        raise TsucError(f"{path}, line {head_no}: the header needs N >= 1 and E >= 0, got N={n} E={e}")
    if n > MAX_GSET_NODES:
        raise TsucError(f"{path}, line {head_no}: the header's N={n} exceeds the {MAX_GSET_NODES:,} nodes tsuc reads from a G-set file")
    body = numbered[1:]
    if len(body) != e:
        where = body[e][0] if len(body) > e else (body[-1][0] if body else head_no)
        raise TsucError(f"{path}, line {where}: the header promises {e} edge line(s) but the file has {len(body)}")
    if any(len(fields) != 3 for _, fields in body):
        no, fields = next((no, f) for no, f in body if len(f) != 3)
        raise TsucError(f"{path}, line {no}: an edge line must be `i j w`, got {len(fields)} field(s)")
    try:  # fast path: every token well-formed
        arr = np.array([f for _, fields in body for f in fields], dtype=np.float64).reshape(-1, 3)
        ok = np.all(np.isfinite(arr)) and np.all(arr[:, :2] == np.round(arr[:, :2]))
    except ValueError:
        ok = False
    if not ok:
        for no, (a, b, w) in body:
            _parse_number(a, path, no, "node", True)
            _parse_number(b, path, no, "node", True)
            _parse_number(w, path, no, "weight", False)
        raise TsucError(f"{path}: malformed edge list")  # unreachable: the loop raises first
    with np.errstate(over="ignore"):
        total = np.abs(arr[:, 2]).sum() if arr.size else 0.0
    if not total < 1e300:
        raise TsucError(f"{path}: the edge weights are so large that their sum overflows a float64")
    i = arr[:, 0].astype(np.int64)
    j = arr[:, 1].astype(np.int64)
    bad = np.flatnonzero((i < 1) | (i > n) | (j < 1) | (j > n))
    if bad.size:
        no = body[int(bad[0])][0]
        raise TsucError(f"{path}, line {no}: node numbers must lie in 1..{n} (G-set nodes are 1-based)")
    loops = np.flatnonzero(i == j)
    if loops.size:
        no = body[int(loops[0])][0]
        raise TsucError(f"{path}, line {no}: edge ({int(i[loops[0]])}, {int(i[loops[0]])}) is a self-loop, which a cut cannot contain")
    name = os.path.splitext(os.path.basename(path))[0]
    return IsingProblem.maxcut_graph(n, i - 1, j - 1, arr[:, 2], name=name, meta={"source": "gset"})


def read_gset(path: str | os.PathLike[str]) -> IsingProblem:
    """Read a G-set file as a Max-Cut `IsingProblem`."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise TsucError(f"{path}: cannot read the G-set file ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise TsucError(f"{path}: the G-set file is not UTF-8 text") from None
    return parse_gset(text, path)


def format_gset(n: int, edges: np.ndarray, weights: np.ndarray) -> str:
    """G-set text for a graph with 0-based `edges` (E, 2) and `weights` (E,)."""
    edges = np.asarray(edges, dtype=np.int64)
    out = [f"{n} {len(edges)}"]
    for (a, b), w in zip(edges.tolist(), np.asarray(weights).tolist()):
        out.append(f"{a + 1} {b + 1} {int(w) if float(w).is_integer() else repr(float(w))}")
    return "\n".join(out) + "\n"


# -- BQM --------------------------------------------------------------------------------------


def _label_order(labels: list[Any]) -> list[Any]:
    """Variables in a stable order: numeric labels (ints or int strings) sorted by value,
    otherwise in order of first appearance."""

    def as_int(label: Any) -> int | None:
        if isinstance(label, bool):
            return None
        if isinstance(label, int):
            return label
        if isinstance(label, str) and label.strip().lstrip("-").isdigit():
            return int(label)
        return None

    seen: dict[Any, None] = {}
    for label in labels:
        seen.setdefault(label, None)
    uniq = list(seen)
    ints = [as_int(x) for x in uniq]
    if uniq and all(v is not None for v in ints) and len(set(ints)) == len(ints):
        return [x for _, x in sorted(zip(ints, uniq))]
    return uniq


def bqm_to_ising(linear: np.ndarray, qi, qj, qv, offset: float, vartype: str, n: int, **kw) -> IsingProblem:
    """An `IsingProblem` equal, state for state, to the BQM E(v) = offset + b.v + sum b_ij v_i v_j."""
    b = np.asarray(linear, dtype=np.float64)
    qi = np.asarray(qi, dtype=np.int64)
    qj = np.asarray(qj, dtype=np.int64)
    qv = np.asarray(qv, dtype=np.float64)
    if vartype == "SPIN":
        return IsingProblem.from_edges(n, qi, qj, -qv, -b, offset, **kw)
    if vartype != "BINARY":
        raise TsucError(f"BQM vartype {vartype!r} is not one of {', '.join(VARTYPES)}")
    h = b / 2.0
    np.add.at(h, qi, qv / 4.0)
    np.add.at(h, qj, qv / 4.0)
    offset = float(offset) + float(b.sum()) / 2.0 + float(qv.sum()) / 4.0
    return IsingProblem.from_edges(n, qi, qj, -qv / 4.0, -h, offset, **kw)


def ising_to_bqm(problem: IsingProblem, vartype: str = "SPIN") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(linear b, qi, qj, qv, offset) of the BQM in `vartype` equal to `problem` state for state."""
    if vartype == "SPIN":
        return -problem.h.copy(), problem.rows.copy(), problem.cols.copy(), -problem.J.copy(), problem.offset
    if vartype != "BINARY":
        raise TsucError(f"BQM vartype {vartype!r} is not one of {', '.join(VARTYPES)}")
    # s = 2x - 1: -J s_i s_j = -4J x_i x_j + 2J x_i + 2J x_j - J;  -h s = -2h x + h
    qv = -4.0 * problem.J
    b = -2.0 * problem.h
    np.add.at(b, problem.rows, 2.0 * problem.J)
    np.add.at(b, problem.cols, 2.0 * problem.J)
    offset = problem.offset - float(problem.J.sum()) + float(problem.h.sum())
    return b, problem.rows.copy(), problem.cols.copy(), qv, offset


def parse_bqm(obj: Any, path: str = "<bqm>") -> IsingProblem:
    """A BQM JSON object {"vartype", "linear": {label: b}, "quadratic": [[u, v, b], ...], "offset"}."""
    if not isinstance(obj, dict):
        raise TsucError(f"{path}: a BQM must be a JSON object with vartype, linear, quadratic and offset")
    unknown = sorted(set(obj) - {"vartype", "linear", "quadratic", "offset", "labels", "name"})
    if unknown:
        raise TsucError(f"{path}: unknown BQM key(s) {', '.join(map(repr, unknown))} (expected vartype, linear, quadratic, offset)")
    vartype = obj.get("vartype")
    if vartype not in VARTYPES:
        raise TsucError(f"{path}: \"vartype\" must be \"SPIN\" or \"BINARY\", got {vartype!r}")
    linear = obj.get("linear", {})
    if not isinstance(linear, dict):
        raise TsucError(f"{path}: \"linear\" must be an object mapping variable labels to biases")
    quadratic = obj.get("quadratic", [])
    if not isinstance(quadratic, list):
        raise TsucError(f"{path}: \"quadratic\" must be a list of [u, v, bias] triples")
    offset = obj.get("offset", 0.0)

    def number(value: Any, where: str) -> float:
        try:
            finite = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) and abs(float(value)) < 1e300
        except OverflowError:  # an integer of hundreds of digits
            finite = False
        if not finite:
            raise TsucError(f"{path}: {where} must be a finite number of moderate size, got {str(value)[:40]!r}")
        return float(value)

    offset = number(offset, "\"offset\"")
    triples = []
    for k, entry in enumerate(quadratic):
        if not isinstance(entry, list) or len(entry) != 3:
            raise TsucError(f"{path}: quadratic entry {k} must be a [u, v, bias] triple, got {entry!r}")
        u, v, bias = entry
        for label in (u, v):
            if not isinstance(label, (str, int)) or isinstance(label, bool):
                raise TsucError(f"{path}: quadratic entry {k} has label {label!r}, which is not a string or integer")
        if str(u) == str(v):
            raise TsucError(f"{path}: quadratic entry {k} couples variable {u!r} to itself, which a BQM cannot hold")
        triples.append((str(u), str(v), number(bias, f"the bias of quadratic entry {k}")))
    lin = {str(k): number(v, f"the linear bias of {k!r}") for k, v in linear.items()}
    labels = _label_order(list(lin) + [x for u, v, _ in triples for x in (u, v)])
    index = {label: k for k, label in enumerate(labels)}
    n = len(labels)
    if n == 0:
        raise TsucError(f"{path}: the BQM has no variables")
    b = np.zeros(n)
    for label, bias in lin.items():
        b[index[label]] = bias
    qi = np.array([index[u] for u, _, _ in triples], dtype=np.int64)
    qj = np.array([index[v] for _, v, _ in triples], dtype=np.int64)
    qv = np.array([w for _, _, w in triples], dtype=np.float64)
    name = obj.get("name") or os.path.splitext(os.path.basename(path))[0]
    return bqm_to_ising(b, qi, qj, qv, offset, vartype, n, name=str(name),
                        meta={"source": "bqm", "vartype": vartype, "labels": labels})


def read_bqm(path: str | os.PathLike[str]) -> IsingProblem:
    """Read a BQM JSON file."""
    path = os.fspath(path)
    try:
        with open(path, encoding="utf-8") as f:
            obj = json.load(f)
    except OSError as e:
        raise TsucError(f"{path}: cannot read the BQM file ({e.strerror or e})") from None
    except RecursionError:
        raise TsucError(f"{path}: the BQM JSON nests too deeply") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        where = f", line {e.lineno}" if isinstance(e, json.JSONDecodeError) else ""
        raise TsucError(f"{path}{where}: the BQM file is not valid JSON") from None
    return parse_bqm(obj, path)


def bqm_json(problem: IsingProblem, vartype: str = "SPIN") -> dict[str, Any]:
    """The BQM JSON object of `problem` in `vartype` (labels are the spin indices)."""
    b, qi, qj, qv, offset = ising_to_bqm(problem, vartype)
    return {
        "vartype": vartype,
        "linear": {str(k): float(v) for k, v in enumerate(b)},
        "quadratic": [[int(u), int(v), float(w)] for u, v, w in zip(qi, qj, qv)],
        "offset": float(offset),
    }


# -- QUBO and numpy ----------------------------------------------------------------------------


def qubo_to_ising(Q, offset: float = 0.0, **kw) -> IsingProblem:
    """E(x) = x^T Q x + offset over x in {0, 1}^n, as an Ising problem (s = 2x - 1)."""
    Q = np.asarray(Q, dtype=np.float64)
    if Q.ndim != 2 or Q.shape[0] != Q.shape[1]:
        raise TsucError(f"a QUBO matrix must be square, not shape {Q.shape}")
    n = Q.shape[0]
    upper = np.triu(Q, 1) + np.tril(Q, -1).T
    qi, qj = np.nonzero(upper)
    return bqm_to_ising(np.diag(Q).copy(), qi, qj, upper[qi, qj], offset, "BINARY", n, **kw)


def ising_to_qubo(problem: IsingProblem) -> tuple[np.ndarray, float]:
    """(Q upper triangular, offset) with x^T Q x + offset = H(2x - 1) for every x."""
    b, qi, qj, qv, offset = ising_to_bqm(problem, "BINARY")
    Q = np.diag(b)
    Q[qi, qj] += qv
    return Q, offset


def from_numpy(J, h=None, offset: float = 0.0, name: str = "") -> IsingProblem:
    """An Ising problem from numpy J (symmetric; a diagonal moves into the offset) and h."""
    return IsingProblem.from_dense(J, h, offset, name=name, meta={"source": "numpy"})


FORMATS = {"gset": read_gset, "bqm": read_bqm}
EXTENSIONS = {".txt": "gset", ".gset": "gset", ".json": "bqm"}


def format_for(path: str) -> str | None:
    """The problem format a file name implies, or None."""
    return EXTENSIONS.get(os.path.splitext(path)[1].lower())
