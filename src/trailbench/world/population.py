"""Households and the people in them: form, group, tenure, sex, birth dates and true names.

Groups differ only through cited structure: household form (multigenerational shares and the
mean household size), tenure, foreign-born shares, and the name tables and naming conventions
of each group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from trailbench.assumptions import value
from trailbench.scenario import GROUPS, Scenario
from trailbench.world import names

FORMS = ("one_person", "couple", "couple_children", "single_parent", "multigenerational", "shared")
ROLES = ("householder", "spouse", "elder", "child", "roommate")
HISPANIC = GROUPS.index("hispanic")
API = GROUPS.index("api")
WHITE = GROUPS.index("white")


@dataclass(frozen=True)
class HouseholdModel:
    """Each group's household forms and the sizes within them (all arrays indexed by group).

    A household's size is 1 (householder) + spouse + elders + children + roommates, by form:
    one_person 1; couple 2; couple_children 2 + k; single_parent 1 + k; multigenerational
    1 + spouse + (1 or 2 elders) + k; shared 1 + 1 + Binomial(2, extra roommate); with
    k = 1 + Poisson(extra_children) children.
    """

    forms: np.ndarray  # (groups, forms) probability of each form
    extra_children: np.ndarray  # Poisson mean of children beyond the first
    mg_spouse: np.ndarray  # multigenerational households with the householder's spouse
    mg_two_elders: np.ndarray  # multigenerational households with two elders
    extra_roommate: np.ndarray  # each of up to two extra roommates in shared housing

    def mean_size(self) -> np.ndarray:
        k = 1.0 + self.extra_children
        sizes = np.column_stack(
            [
                np.ones_like(k),
                np.full_like(k, 2.0),
                2.0 + k,
                1.0 + k,
                2.0 + self.mg_spouse + self.mg_two_elders + k,
                2.0 + 2.0 * self.extra_roommate,
            ]
        )
        return np.asarray((self.forms * sizes).sum(axis=1))


def _tilted(sc: Scenario, theta: np.ndarray) -> HouseholdModel:
    """The base household model (shared by every group) tilted by exp(theta * size) per group.

    Tilting a product of independent parts tilts each part: a Bernoulli(p) becomes
    Bernoulli(p e^t / (1 - p + p e^t)), a Poisson(m) becomes Poisson(m e^t), and each form's
    weight is multiplied by the moment generating function of its size. The multigenerational
    share is held at the group's own (cited) value; the other forms share the rest.
    """
    h = sc.housing
    t = np.asarray(theta, dtype=np.float64)
    et = np.exp(t)

    def bern(p: float) -> np.ndarray:
        return np.asarray(p * et / (1.0 - p + p * et))

    lam = h.children_mean - 1.0
    q = value("shared_extra_roommate")
    log_mk = t + lam * (et - 1.0)  # log E[exp(t k)], k = 1 + Poisson(lam)
    mg = np.array(h.multigenerational.as_array())
    rest = np.clip(1.0 - h.one_person - h.shared_nonfamily - mg, 0.0, 1.0)
    fam = np.array(h.family_forms) / sum(h.family_forms)
    one, shared = np.full_like(mg, h.one_person), np.full_like(mg, h.shared_nonfamily)
    base = np.column_stack([one, rest * fam[0], rest * fam[1], rest * fam[2], shared])
    log_m = np.column_stack([t, 2 * t, 2 * t + log_mk, t + log_mk, 2 * t + 2 * np.log1p(q * (et - 1.0))])
    w = np.where(base > 0, base * np.exp(log_m - log_m.max(axis=1, keepdims=True)), 0.0)
    total = w.sum(axis=1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total > 0) * (1.0 - mg)[:, None]
    forms = np.column_stack([w[:, :4], mg, w[:, 4]])
    return HouseholdModel(
        forms=forms / forms.sum(axis=1, keepdims=True),
        extra_children=lam * et,
        mg_spouse=bern(value("multigen_spouse")),
        mg_two_elders=bern(value("multigen_two_elders")),
        extra_roommate=bern(q),
    )


def household_model(sc: Scenario) -> HouseholdModel:
    """Household forms and sizes whose mean per group is ``housing.household_size`` (cited).

    Groups share one base model (assumptions); each group's is the base tilted by exp(t * size),
    the distribution closest to the base (least relative entropy) with the cited mean size and
    the group's multigenerational share. The tilt t is found by bisection: the mean grows with t.
    """
    want = np.array(sc.housing.household_size.as_array())
    lo = np.full(len(GROUPS), -30.0)
    hi = np.full(len(GROUPS), 30.0)
    for _ in range(80):
        mid = (lo + hi) / 2.0
        below = _tilted(sc, mid).mean_size() < want
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    model = _tilted(sc, (lo + hi) / 2.0)
    miss = np.abs(model.mean_size() - want) > 1e-6
    if miss.any():  # the schema refuses sizes out of reach; a miss here is a bug
        raise RuntimeError(f"household sizes not reached for {np.array(GROUPS)[miss].tolist()}; this is a bug")
    return model


def _draw_forms(rng: np.random.Generator, probs: np.ndarray, group: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(probs, axis=1)[group]
    return np.minimum((rng.random(len(group))[:, None] > cdf).sum(axis=1), len(FORMS) - 1)


def build_households(sc: Scenario, rng: np.random.Generator) -> tuple[pl.DataFrame, np.ndarray]:
    """Households sized to hold exactly ``world.people`` people; returns (households, size)."""
    n = sc.world.people
    mix = np.array(sc.world.group_mix.as_array())
    mix = mix / mix.sum()
    model = household_model(sc)
    esize = model.mean_size()
    p_house = mix / esize
    p_house /= p_house.sum()
    n_h = int(n / float(p_house @ esize) * 1.15) + 10
    group = rng.choice(len(GROUPS), size=n_h, p=p_house)
    form = _draw_forms(rng, model.forms, group)
    k = 1 + rng.poisson(model.extra_children[group])
    n_spouse = np.isin(form, (1, 2)).astype(np.int64)
    mg = form == 4
    n_spouse[mg] = (rng.random(int(mg.sum())) < model.mg_spouse[group[mg]]).astype(np.int64)
    n_child = np.where(np.isin(form, (2, 3, 4)), k, 0)
    n_elder = np.where(mg, 1 + (rng.random(n_h) < model.mg_two_elders[group]), 0)
    n_room = np.where(form == 5, 1 + rng.binomial(2, model.extra_roommate[group]), 0)
    size = 1 + n_spouse + n_child + n_elder + n_room
    cum = np.cumsum(size)
    last = int(np.searchsorted(cum, n))  # household that reaches n people
    if last >= n_h:
        raise RuntimeError("household draw fell short of the population; this is a bug")
    over = int(cum[last] - n)
    # trim the last household so the total is exact: drop roommates/children first
    for arr in (n_room, n_child, n_elder, n_spouse):
        take = min(over, int(arr[last]))
        arr[last] -= take
        over -= take
    keep = slice(0, last + 1)
    group, form = group[keep], form[keep]
    n_spouse, n_child, n_elder, n_room = n_spouse[keep], n_child[keep], n_elder[keep], n_room[keep]
    size = 1 + n_spouse + n_child + n_elder + n_room
    # shared non-family housing is rented (assumption); the other forms own at a rate that
    # keeps each group's overall homeownership at the cited figure
    not_shared = 1.0 - model.forms[:, FORMS.index("shared")]
    own_p = np.array(sc.housing.ownership.as_array())[group] / not_shared[group]
    tenure_own = (rng.random(len(group)) < own_p) & (form != 5)
    hh = pl.DataFrame(
        {
            "household_id": np.arange(len(group), dtype=np.int64),
            "form": np.array(FORMS, dtype=object)[form],
            "group": np.array(GROUPS, dtype=object)[group],
            "tenure": np.where(tenure_own, "own", "rent"),
            "size": size.astype(np.int64),
            "n_spouse": n_spouse,
            "n_elder": n_elder,
            "n_child": n_child,
            "n_room": n_room,
        },
        schema_overrides={"form": pl.String, "group": pl.String, "tenure": pl.String},
    )
    return hh, size


def _ages(rng: np.random.Generator, form: np.ndarray, role: np.ndarray, hh_age: np.ndarray) -> np.ndarray:
    """Age in years at the scenario start for each person (assumption: simple shapes)."""
    n = len(role)
    age = np.zeros(n)
    u = rng.random(n)
    spouse = role == 1
    age[spouse] = np.clip(hh_age[spouse] + rng.normal(0, 3, spouse.sum()), 18, 95)
    elder = role == 2
    age[elder] = np.clip(hh_age[elder] + rng.uniform(22, 35, elder.sum()), 45, 99)
    child = role == 3
    age[child] = np.floor(u[child] * np.clip(hh_age[child] - 17, 1, 18))
    room = role == 4
    age[room] = 18 + rng.beta(1.5, 3.0, room.sum()) * 40
    hh = role == 0
    age[hh] = hh_age[hh]
    return age


def adult_foreign_born_rate(sc: Scenario, group: np.ndarray, role: np.ndarray) -> np.ndarray:
    """Per group, the rate at which householders, spouses, elders and roommates are drawn
    foreign-born so that the expected share of the group's people, children included, is
    ``world.foreign_born``.

    With adult rate r: householders, spouses (who share the householder's status or draw their
    own) and roommates are foreign-born with probability r, elders (foreign-born with the
    householder or on their own draw) 2r - r^2, children ``child_foreign_born`` * r. The
    expected count is quadratic in r; its root in [0, 1] is taken (1 if the share cannot be met).
    """
    want = np.array(sc.world.foreign_born.as_array())
    c = value("child_foreign_born")
    out = np.zeros(len(GROUPS))
    for g in range(len(GROUPS)):
        r_g = role[group == g]
        n = len(r_g)
        if n == 0:
            continue
        elders = float((r_g == 2).sum())
        children = float((r_g == 3).sum())
        adults = n - elders - children
        b = adults + 2.0 * elders + c * children  # linear term
        target = want[g] * n
        if elders > 0:
            disc = max(b * b - 4.0 * elders * target, 0.0)
            r = (b - np.sqrt(disc)) / (2.0 * elders)
        else:
            r = target / b if b > 0 else 0.0
        out[g] = min(max(float(r), 0.0), 1.0)
    return out


def build_people(
    sc: Scenario, rng: np.random.Generator, hh: pl.DataFrame, names_rng: np.random.Generator
) -> pl.DataFrame:
    size = hh["size"].to_numpy()
    hid = np.repeat(hh["household_id"].to_numpy(), size)
    first = np.repeat(np.cumsum(size) - size, size)
    pos = np.arange(len(hid)) - first
    ns, ne, nc = (np.repeat(hh[c].to_numpy(), size) for c in ("n_spouse", "n_elder", "n_child"))
    role = np.select([pos == 0, pos <= ns, pos <= ns + ne, pos <= ns + ne + nc], [0, 1, 2, 3], default=4).astype(
        np.int64
    )
    form_h = pl.Series(hh["form"]).replace_strict(list(FORMS), list(range(len(FORMS)))).to_numpy()
    group_h = pl.Series(hh["group"]).replace_strict(list(GROUPS), list(range(len(GROUPS)))).to_numpy()
    n_h = len(size)
    # householder ages by form (assumption)
    hh_age_h = np.select(
        [form_h == 0, np.isin(form_h, (2, 3)), form_h == 4, form_h == 5],
        [
            18 + rng.beta(1.3, 1.6, n_h) * 72,
            22 + rng.beta(2, 2, n_h) * 33,
            30 + rng.beta(2, 2, n_h) * 30,
            19 + rng.beta(1.5, 3, n_h) * 40,
        ],
        default=22 + rng.beta(1.8, 1.8, n_h) * 63,
    )
    form = form_h[hid]
    group = group_h[hid]
    age = _ages(rng, form, role, hh_age_h[hid])
    n = len(hid)
    # sex: couples mostly of opposite sex
    male = rng.random(n) < 0.5
    is_sp = role == 1
    same = rng.random(n) < sc.housing.same_sex_couples
    hh_male = male[first]
    male[is_sp] = np.where(same[is_sp], hh_male[is_sp], ~hh_male[is_sp])
    # foreign-born
    fb_rate = adult_foreign_born_rate(sc, group, role)[group]
    fb = rng.random(n) < fb_rate
    hh_fb = fb[first]
    fb[is_sp] = np.where(rng.random(int(is_sp.sum())) < value("spouse_same_birthplace"), hh_fb[is_sp], fb[is_sp])
    fb[role == 2] = hh_fb[role == 2] | fb[role == 2]
    ch = role == 3
    fb[ch] = hh_fb[ch] & (rng.random(int(ch.sum())) < value("child_foreign_born"))
    start = np.datetime64(sc.world.start, "D")
    dob = start - (age * 365.25).astype("timedelta64[D]") - rng.integers(0, 365, n).astype("timedelta64[D]")
    people = pl.DataFrame(
        {
            "person_id": np.arange(n, dtype=np.int64),
            "household_id": hid.astype(np.int64),
            "role": np.array(ROLES, dtype=object)[role],
            "sex": np.where(male, "M", "F"),
            "dob": dob,
            "group": np.array(GROUPS, dtype=object)[group],
            "foreign_born": fb,
        },
        schema_overrides={"role": pl.String, "group": pl.String},
    )
    # names draw from their own stream: switching the name mechanism leaves everything else as it was
    return people.with_columns(_name_columns(sc, names_rng, role, group, male, fb, age, hid, first, ns))


def _name_columns(
    sc: Scenario,
    rng: np.random.Generator,
    role: np.ndarray,
    group: np.ndarray,
    male: np.ndarray,
    fb: np.ndarray,
    age: np.ndarray,
    hid: np.ndarray,
    first: np.ndarray,
    ns: np.ndarray,
) -> list[pl.Series]:
    nc = sc.names
    flat = nc.structure == "flat"
    n = len(role)
    paternal = names.draw_surnames(rng, group, nc.structure, nc.flat_list_size)
    maternal = names.draw_surnames(rng, group, nc.structure, nc.flat_list_size)
    # adult children living apart carry a parent household's surname (assumption share)
    parent_person = np.full(n, -1, dtype=np.int64)
    young = np.flatnonzero((role == 0) & (age >= 18) & (age <= 35))
    pick = young[rng.random(len(young)) < sc.housing.adult_child_elsewhere]
    older = np.flatnonzero((role == 0) & (age >= 45))
    if len(pick) and len(older):
        og = group[older]
        order = np.argsort(og, kind="stable")
        older_sorted, og_sorted = older[order], og[order]
        lo = np.searchsorted(og_sorted, group[pick], side="left")
        hi = np.searchsorted(og_sorted, group[pick], side="right")
        ok = hi > lo
        pick, lo, hi = pick[ok], lo[ok], hi[ok]
        parent = older_sorted[lo + (rng.random(len(pick)) * (hi - lo)).astype(np.int64)]
        parent_person[pick] = parent
        paternal[pick] = paternal[parent]
    # household members: father = the male among householder/spouse (householder if single)
    has_sp = ns > 0
    spouse_idx = np.where(has_sp, first + 1, first)
    hh_male = male[first]
    sp_male = male[spouse_idx]
    father = np.where(hh_male, first, np.where(has_sp & sp_male, spouse_idx, -1))
    mother = np.where(~hh_male, first, np.where(has_sp & ~sp_male, spouse_idx, -1))
    hisp = (group == HISPANIC) & (not flat)
    ch = role == 3
    # children: paternal from father (householder if no father), maternal from mother (Hispanic)
    src = np.where(father >= 0, father, first)
    # with no father in the household, a Hispanic child keeps an own-drawn paternal surname
    inherit = ch & ((father >= 0) | ~hisp)
    paternal[inherit] = paternal[src[inherit]]
    m_ok = ch & hisp & (mother >= 0)
    maternal[m_ok] = paternal[mother[m_ok]]
    # elders: a male elder is the householder's father
    el = (role == 2) & male
    paternal[el] = paternal[first[el]]
    surname = paternal.copy()
    if not flat:
        u = rng.random(n)
        hy = np.where(hisp, nc.hispanic_hyphen, nc.other_hyphen)
        sp = np.where(hisp, nc.hispanic_space, nc.other_space)
        is_hy = u < hy
        is_sp = (u >= hy) & (u < hy + sp)
        surname = surname.astype(object)
        for joined, sep in ((is_hy, "-"), (is_sp, " ")):
            idx = np.flatnonzero(joined)
            pat = pl.Series(paternal[idx], dtype=pl.String)
            mat = pl.Series(maternal[idx], dtype=pl.String)
            surname[idx] = (pat + sep + mat).to_numpy()
    # non-Hispanic spouses may take the partner's surname (Hispanic convention: keep own)
    sp_role = (role == 1) & ~hisp & ~male & (rng.random(n) < nc.spouse_takes_surname)
    surname[sp_role] = surname[first[sp_role]]
    hh_takes = (role == 0) & ~hisp & ~male & has_sp & sp_male & (rng.random(n) < nc.spouse_takes_surname)
    surname[hh_takes] = surname[spouse_idx[hh_takes]]
    if not flat:
        surname[ch & ~hisp] = surname[src[ch & ~hisp]]
    given = names.draw_given(rng, group, male.astype(np.int64), nc.structure)
    middle = names.draw_given(rng, group, male.astype(np.int64), nc.structure)
    middle = _null_where(rng.random(n) >= nc.middle_name, middle)
    api_fb_adult = (group == API) & fb & (age >= 18) & (not flat)
    alias_draw = names.draw_given(rng, np.full(n, WHITE), male.astype(np.int64), "cited")
    alias = _null_where(~(api_fb_adult & (rng.random(n) < nc.english_alias)), alias_draw)
    fam_first = api_fb_adult & (rng.random(n) < nc.family_name_first)
    return [
        _strings("given", given),
        _strings("middle", middle),
        _strings("surname", surname),
        _strings("surname_paternal", paternal),
        _strings("surname_maternal", _null_where(~hisp, maternal)),
        _strings("alias_given", alias),
        pl.Series("family_name_first", fam_first),
        _where_valid("parent_elsewhere", parent_person, parent_person >= 0),
    ]


def _null_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[np.asarray(mask, dtype=bool)] = None
    return out


def _strings(name: str, values: np.ndarray) -> pl.Series:
    return pl.Series(name, values.tolist(), dtype=pl.String)


def _where_valid(name: str, values: np.ndarray, valid: np.ndarray) -> pl.Series:
    s = pl.Series(name, values)
    return pl.select(pl.when(pl.Series(valid)).then(s).otherwise(None).alias(name)).to_series()
