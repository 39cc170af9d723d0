"""The road grid: arterials over the region's block grid, a highway corridor to a port-of-entry zone.

Local streets run along the block grid (130 m); every ``arterial_blocks``-th street is an
arterial, so the arterials form a square grid of nodes (their crossings) at spacing
``A = 130 m * arterial_blocks``, covering the region and the empty land between towns. One
east-west arterial row, the one nearest the middle of where people live, is the highway
corridor; it runs past the region's eastern edge to the port-of-entry zone ``port_offset_m``
beyond it.

A trip is routed from the node nearest its origin to the node nearest its destination, along
arterials (local streets carry no readers and are left out): east-west along the origin's row,
then north-south along the destination's column. A trip running further east-west than
``highway_min_m`` instead goes north-south to the corridor, along it, and north-south again.
A route is up to three straight legs; :func:`route_legs` gives them as arrays, with the nodes
each adds to the route.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.scenario.plates import PlatesConfig

BLOCK_M = 130.0
MARGIN_NODES = 2
H, V = 0, 1  # leg along a row (east-west) or along a column (north-south)


@dataclass(frozen=True)
class Roads:
    spacing: float  # metres between arterial nodes
    x0: float  # coordinates of node (0, 0)
    y0: float
    cols: int
    rows: int
    highway_row: int
    port_col: int
    highway_min_cols: int  # east-west spans (in nodes) above which trips take the corridor
    region_cols: int  # columns up to the region's eastern edge; beyond it only the corridor

    def col(self, x: np.ndarray, dtype: type[np.signedinteger] = np.int64) -> np.ndarray:
        return _nearest(x, self.x0, self.spacing, self.cols, dtype)

    def row(self, y: np.ndarray, dtype: type[np.signedinteger] = np.int64) -> np.ndarray:
        return _nearest(y, self.y0, self.spacing, self.rows, dtype)

    def node_x(self, col: np.ndarray | int) -> np.ndarray:
        return self.x0 + np.asarray(col) * self.spacing

    def node_y(self, row: np.ndarray | int) -> np.ndarray:
        return self.y0 + np.asarray(row) * self.spacing

    @property
    def port_xy(self) -> tuple[float, float]:
        return float(self.node_x(self.port_col)), float(self.node_y(self.highway_row))


def _nearest(x: np.ndarray, x0: float, spacing: float, n: int, dtype: type[np.signedinteger]) -> np.ndarray:
    """Index of the nearest of ``n`` grid lines at ``x0``, ``x0 + spacing``, ..., in place on one temporary."""
    z = np.subtract(x, x0)
    np.divide(z, spacing, out=z)
    np.rint(z, out=z)
    np.clip(z, 0, n - 1, out=z)
    return z.astype(dtype)


def build_roads(units: pl.DataFrame, pc: PlatesConfig) -> Roads:
    """The arterial grid over ``units`` (housing units with x, y in metres)."""
    a = BLOCK_M * pc.arterial_blocks
    ux, uy = units["x"].to_numpy(), units["y"].to_numpy()
    x0 = float(np.floor(ux.min() / a) * a) - MARGIN_NODES * a
    y0 = float(np.floor(uy.min() / a) * a) - MARGIN_NODES * a
    region_cols = int(np.ceil((ux.max() - x0) / a)) + MARGIN_NODES + 1
    rows = int(np.ceil((uy.max() - y0) / a)) + MARGIN_NODES + 1
    port_col = region_cols + max(1, int(np.ceil(pc.port_offset_m / a)))
    hw = int(np.clip(np.rint((np.median(uy) - y0) / a), 0, rows - 1))
    return Roads(a, x0, y0, port_col + 1, rows, hw, port_col, int(pc.highway_min_m // a), region_cols)


@dataclass
class Legs:
    """Three legs per trip, each field (3, n) (leg, trip): axis (H or V), the fixed row or column,
    the first and last node along the moving coordinate, the nodes travelled before the leg, and
    the nodes the leg adds to the route: ``nodes`` of them from ``lo`` up (a leg starts at the
    node the leg before ends at, so only the first adds its own first node). A route of two legs
    has an empty third (along the destination's column from its row to its row: ``nodes`` 0)."""

    axis: np.ndarray
    fixed: np.ndarray
    a: np.ndarray
    b: np.ndarray
    before: np.ndarray
    lo: np.ndarray
    nodes: np.ndarray
    length: np.ndarray  # (n,) nodes travelled in all


def route_legs(roads: Roads, c0: np.ndarray, r0: np.ndarray, c1: np.ndarray, r1: np.ndarray) -> Legs:
    """The legs of routes from node (c0, r0) to node (c1, r1).

    local: H along r0 from c0 to c1, V along c1 from r0 to r1, V along c1 from r1 to r1 (empty);
    highway: V along c0 from r0 to rh, H along rh from c0 to c1, V along c1 from rh to r1."""
    n = len(c0)
    dt = np.result_type(c0, r0, c1, r1)
    hw = (np.abs(c1 - c0) > roads.highway_min_cols).astype(dt)  # 1 on the highway, 0 local
    rh = dt.type(roads.highway_row)

    def pick(on_highway: np.ndarray | np.integer, local: np.ndarray, out: np.ndarray) -> None:
        """``out`` = ``on_highway`` where hw else ``local``, by arithmetic (np.where is slower)."""
        np.subtract(on_highway, local, out=out)
        out *= hw
        out += local

    axis = np.empty((3, n), dtype=np.int8)
    axis[0] = hw  # H = 0, V = 1
    np.subtract(1, hw, out=axis[1], casting="unsafe")
    axis[2] = V
    a = np.empty((3, n), dtype=dt)
    b = np.empty((3, n), dtype=dt)
    fixed = np.empty((3, n), dtype=dt)
    pick(c0, r0, a[1])  # also the fixed line of leg 0
    fixed[0] = a[1]
    np.add(c0, r0, out=a[0])
    a[0] -= a[1]
    pick(rh, c1, b[0])  # also the fixed line of leg 1
    fixed[1] = b[0]
    fixed[2] = c1
    pick(c1, r1, b[1])
    pick(rh, r1, a[2])
    b[2] = r1
    span = np.subtract(b, a)
    np.abs(span, out=span)
    before = np.empty_like(span)
    before[0] = 0
    before[1] = span[0]
    np.add(span[0], span[1], out=before[2])
    length = before[2] + span[2]
    lo = np.minimum(a, b)
    lo[1:] += a[1:] < b[1:]
    span[0] += 1
    return Legs(axis, fixed, a, b, before, lo, span, length)


def built_up_nodes(roads: Roads, units: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nodes with housing nearest them: (col, row, share of those units in multi-unit buildings),
    sorted by row then column."""
    c = roads.col(units["x"].to_numpy())
    r = roads.row(units["y"].to_numpy())
    node = r * roads.cols + c
    multi = (units["kind"].to_numpy() != "house").astype(np.float64)
    uniq, inv = np.unique(node, return_inverse=True)
    share = np.bincount(inv, weights=multi) / np.bincount(inv)
    return uniq % roads.cols, uniq // roads.cols, share
