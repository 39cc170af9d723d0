"""Scenario sections for daily movement, devices and the signals they leave (issue 11).

:class:`MovementConfig` sets the audit window, places, work shifts, school runs and the
exploration-and-preferential-return model of errands and visits; :class:`DevicesConfig` sets
phone ownership, sharing, churn, advertising IDs, Wi-Fi MAC randomisation and the location
pings and Wi-Fi sightings devices leave. Every parameter names its source or says "assumption".
"""

from __future__ import annotations

from pydantic import Field, model_validator

from trailbench.scenario.types import Probabilities3, Problem, Rate, Section, Weights4, param

BLS_2017_18 = "BLS, Job Flexibilities and Work Schedules 2017-18 (USDL-19-1691)"
BLS_SHIFTS = (
    "derived: 16% of wage and salary workers usually work an alternate shift (BLS 2017-18, FACTS), split in "
    "proportion to the May 2004 CPS shares of full-time workers (evening 4.7%, night 3.2%, employer-arranged "
    "irregular 3.1%, rotating 2.5%; BLS USDL 05-1198): day 0.84, evening 0.056, night 0.038, irregular or "
    "rotating 0.066"
)
ATUS_2012 = "BLS, American Time Use Survey 2012 results (USDL-13-1178), table 4"
PEW_2021 = "Pew Research Center, Mobile Fact Sheet (survey of Jan-Feb 2021): smartphone ownership by age"
SONG_2010 = "Song, Koren, Wang & Barabasi 2010, Nature Physics 6:818 (FACTS: EPR)"
ZANDBERGEN = "Zandbergen 2009, Transactions in GIS 13:5 (FACTS): median horizontal error"


class PlaceDensity(Section):
    """Places per 1,000 residents, by kind (workplaces come from the employers table)."""

    school: float = param(
        0.4, "assumption (about 130,000 US public and private schools for 330M people)", "", ge=0, le=50
    )
    shop: float = param(5.0, "assumption (shops, restaurants and services open to the public)", "", ge=0, le=100)
    worship: float = param(
        1.1, "assumption (on the order of 350,000 US congregations for 330M people)", "", ge=0, le=50
    )
    clinic: float = param(0.7, "assumption", "clinics, doctors' and dentists' offices", ge=0, le=50)
    park: float = param(0.5, "assumption", "parks and playgrounds", ge=0, le=50)
    transit: float = param(2.0, "assumption", "bus and rail stops", ge=0, le=100)


class StayMinutes(Section):
    """Mean stay at an errand or visit, minutes, by kind (durations are gamma-distributed)."""

    shop: float = param(35.0, "assumption", "", gt=0, le=600)
    park: float = param(60.0, "assumption", "", gt=0, le=600)
    clinic: float = param(50.0, "assumption", "", gt=0, le=600)
    visit: float = param(110.0, "assumption", "visits to ties' homes", gt=0, le=900)


class MovementConfig(Section):
    """Each person's stays over the audit window: home, work by shift, school, errands and visits."""

    window_days: int = param(
        14,
        "assumption: two weeks, so every weekday and weekend day occurs twice while the five replicate worlds' "
        "pings stay within the default audit's time (about 8.8 million pings a world for county-10k)",
        "length of the audit window, days",
        ge=1,
        le=49,
    )
    places: PlaceDensity = Field(default_factory=PlaceDensity)
    place_zipf: float = param(
        1.0,
        "assumption",
        "popularity of places of one kind falls with rank as rank^-place_zipf (the gravity model's mass)",
        ge=0,
        le=3,
    )
    # -- work -------------------------------------------------------------------------
    shifts: Weights4 = param(
        (0.84, 0.056, 0.038, 0.066),
        BLS_SHIFTS,
        "workers' usual shift on their main job: day, evening, night, irregular or rotating (relative weights)",
    )
    shift_start_hours: tuple[float, float, float] = param(
        (8.0, 15.5, 22.5), "assumption", "mean start of the day, evening and night shift, hours after midnight"
    )
    shift_start_sd_hours: float = param(
        0.75, "assumption", "spread of usual start times between workers, hours", ge=0, le=6
    )
    start_jitter_hours: float = param(0.25, "assumption", "day-to-day spread of one worker's start", ge=0, le=3)
    work_hours: float = param(8.0, ATUS_2012 + ": 8.0 hours on weekdays worked", "", gt=0, le=16)
    weekend_work_hours: float = param(5.7, ATUS_2012 + ": 5.7 hours on weekend days worked", "", gt=0, le=16)
    work_hours_sd: float = param(1.0, "assumption", "spread of hours worked in a day", ge=0, le=6)
    weekday_work: Rate = param(
        0.83, ATUS_2012 + ": 83% of employed people work on an average weekday", "share of workers at work on a weekday"
    )
    weekend_work: Rate = param(
        0.34, ATUS_2012 + ": 34% work on an average weekend day", "share of workers at work on a weekend day"
    )
    absence: Rate = param(
        0.05,
        "assumption",
        "days a worker misses of their usual work days (usual days are drawn at weekday_work / (1 - absence))",
    )
    multiple_jobs: Rate = param(
        0.051, "BLS CPS table A-16, 2024: multiple jobholders 5.1% of the employed", "workers with a second job"
    )
    second_job_days: float = param(
        2.0, "assumption", "days a week a second job is worked (on days off the main job, or evenings)", ge=0, le=7
    )
    second_job_hours: float = param(4.5, "assumption", "hours of a second-job shift", gt=0, le=12)
    home_workers: Rate = param(
        0.15, BLS_2017_18 + ": 15% had days they only worked at home", "workers with some days worked only at home"
    )
    home_work_days: Rate = param(0.4, "assumption", "share of their work days that such workers spend at home")
    informal_sites: float = param(
        4.0,
        "assumption",
        "informal workers' recurring work sites (1 + Poisson of this mean, drawn among homes in the region); "
        "each work day goes to one of them, chosen with Zipf weights",
        ge=0,
        le=50,
    )
    transit_commute: Rate = param(
        0.05, "assumption (about 5% of US workers commute by public transit, ACS)", "workers who commute by transit"
    )
    # -- school -------------------------------------------------------------------------
    school_ages: tuple[int, int] = param((5, 17), "assumption (kindergarten to grade 12)", "ages at school")
    school_start_hours: float = param(8.0, "assumption", "school day start, hours after midnight", ge=5, le=11)
    school_hours: float = param(6.7, "assumption (a school day of about 6.5-7 hours)", "", gt=0, le=10)
    school_run_max_age: int = param(12, "assumption", "pupils up to this age are taken to school", ge=0, le=17)
    school_run: Rate = param(
        0.7, "assumption", "households with such pupils where a parent drives them (others walk or take a bus)"
    )
    # -- errands, visits, worship --------------------------------------------------------
    errands_per_day: tuple[float, float] = param(
        (0.9, 1.6),
        "assumption (of the order of the 1-2 non-work trips a day in US travel surveys)",
        "home-based errand and visit tours a day: people with a job or school, others",
    )
    weekend_errands: float = param(1.4, "assumption", "errand rate on weekend days, relative", ge=0, le=5)
    errand_min_age: int = param(13, "assumption", "people from this age make their own errands", ge=0, le=30)
    purposes: Weights4 = param(
        (0.6, 0.12, 0.04, 0.24),
        "assumption",
        "purpose of a new errand: shop, park, clinic, visit to a tie's home (relative weights)",
    )
    stay_minutes: StayMinutes = Field(default_factory=StayMinutes)
    stay_shape: float = param(
        1.5, "assumption (stay durations gamma-distributed: Alessandretti et al. 2017, FACTS)", "gamma shape", gt=0
    )
    rho: float = param(0.6, SONG_2010 + ": rho = 0.6", "EPR: chance of exploring is rho * S^-gamma", gt=0, le=1)
    gamma: float = param(0.21, SONG_2010 + ": gamma = 0.21", "EPR exponent", ge=0, le=2)
    burn_in_days: int = param(
        56,
        "assumption",
        "days of errands simulated before the window (not kept) so preferential return starts from a set of known "
        "places",
        ge=0,
        le=730,
    )
    trip_km_median: float = param(
        2.0,
        "assumption (trip lengths log-normal: Alessandretti et al. 2017, FACTS)",
        "median of the log-normal distance kernel for exploring a new place",
        gt=0,
        le=200,
    )
    trip_km_sigma: float = param(1.0, "assumption", "log-sd of that kernel", gt=0, le=3)
    candidates: int = param(
        24, "model setting", "places sampled when choosing where to explore (gravity choice among them)", ge=1, le=512
    )
    speed_kmh: float = param(30.0, "assumption", "door-to-door travel speed", gt=1, le=200)
    trip_overhead_min: float = param(5.0, "assumption", "minutes added to each trip (parking, walking)", ge=0)
    worship_weekly: Rate = param(
        0.3,
        "assumption (about three in ten US adults say they attend services weekly, Gallup)",
        "households attending a weekly service together",
    )
    worship_hours: float = param(1.5, "assumption", "length of a service and the time around it", gt=0, le=8)
    sleep_hours: float = param(8.5, "assumption (ATUS: about 8.5-9 hours a day sleeping)", "", gt=2, le=14)

    @model_validator(mode="after")
    def _ranges(self) -> MovementConfig:
        problems = []
        lo, hi = self.school_ages
        if not 0 <= lo <= hi <= 25:
            problems.append(
                ("school_ages", f"give (youngest, oldest) with 0 <= youngest <= oldest <= 25; got {lo, hi}")
            )
        if any(not 0 <= h < 24 for h in self.shift_start_hours):
            problems.append(("shift_start_hours", "each start must be from 0 to 24 hours after midnight"))
        if any(not 0 <= r <= 20 for r in self.errands_per_day):
            problems.append(("errands_per_day", "each rate must be from 0 to 20 a day"))
        if problems:
            raise Problem(*problems)
        return self


class OwnershipByAge(Section):
    """Share of people with a smartphone of their own, by age band."""

    age_8_12: Rate = param(0.43, "assumption (about four in ten tweens have a smartphone, Common Sense Media 2021)")
    age_13_17: Rate = param(
        0.95, "Pew Research Center, Teens, Social Media & Technology 2018: 95% have a smartphone or access to one"
    )
    age_18_29: Rate = param(0.96, PEW_2021 + " (96%)")
    age_30_49: Rate = param(0.95, PEW_2021 + " (95%)")
    age_50_64: Rate = param(0.83, PEW_2021 + " (83%)")
    age_65_up: Rate = param(0.61, PEW_2021 + " (61%)")

    def as_array(self) -> list[float]:
        return [self.age_8_12, self.age_13_17, self.age_18_29, self.age_30_49, self.age_50_64, self.age_65_up]


AGE_BANDS = (8, 13, 18, 30, 50, 65)  # lower bounds of OwnershipByAge's bands; under 8: no phone


class SourceErrors(Section):
    """Median horizontal error of a location fix, metres, by how it was made."""

    gps: float = param(8.0, ZANDBERGEN + " 8 m", "", gt=0, le=10_000)
    wifi: float = param(74.0, ZANDBERGEN + " 74 m", "", gt=0, le=10_000)
    cell: float = param(600.0, ZANDBERGEN + " 600 m", "", gt=0, le=100_000)

    def as_array(self) -> list[float]:
        return [self.gps, self.wifi, self.cell]


class DevicesConfig(Section):
    """Phones, their identifiers, and the location pings and Wi-Fi sightings they leave."""

    ownership: OwnershipByAge = Field(default_factory=OwnershipByAge)
    shared_phone: Rate = param(
        0.3, "assumption", "household members of 8 or more without a phone who share one of a household adult's"
    )
    shared_days: Rate = param(0.3, "assumption", "days on which the sharer, not the owner, carries a shared phone")
    second_phone: Rate = param(0.08, "assumption", "phone owners who carry a second phone (work phone, prepaid)")
    prepaid: Rate = param(0.22, "assumption (about a fifth of US wireless subscriptions are prepaid)", "")
    prepaid_monthly_churn: Rate = param(
        0.035, "assumption (industry reports of 3-4% a month)", "prepaid phones replaced (new handset) each month"
    )
    postpaid_monthly_churn: Rate = param(0.01, "assumption", "other phones replaced each month")
    ad_id_resets: Rate = param(0.1, "assumption", "share of phones whose user resets the advertising ID in a year")
    ios: Rate = param(0.57, "assumption (US smartphone OS share of the order of 55-60% iOS)", "share of phones on iOS")
    mac_ios: Probabilities3 = param(
        (0.05, 0.65, 0.30),
        "assumption (FACTS: iOS 14+ uses a private address per network; no published share in the wild)",
        "iOS phones presenting the hardware address, a private address per network, a per-network address "
        "re-randomised periodically",
    )
    mac_android: Probabilities3 = param(
        (0.15, 0.70, 0.15),
        "assumption (FACTS: Android 10+ random per network by default, re-randomised in some cases from 12, RFC 9724)",
        "Android phones presenting the hardware address, a private address per network, one re-randomised periodically",
    )
    mac_rotation_hours: float = param(24.0, "assumption", "period of re-randomisation for rotating devices", gt=0)
    wifi_on: Rate = param(0.8, "assumption", "phones with Wi-Fi switched on (seen by Wi-Fi sensors)")
    # -- location pings -----------------------------------------------------------------
    in_panel: Rate = param(
        0.8,
        "assumption (of the order of Fog Data Science's ~250M US devices, EFF 2022, FACTS)",
        "phones carrying an app that sells location to the broker panel",
    )
    pings_per_day: float = param(
        24.0, "assumption", "median pings a day per panel device (device rates are log-normal)", gt=0, le=10_000
    )
    pings_sigma: float = param(
        1.68,
        "derived: a log-normal with sigma 1.68 puts 80% of pings on 20% of devices (Geopath via FACTS: 80% of "
        "sightings come from 20% of devices)",
        "log-sd of device ping rates",
        ge=0,
        le=4,
    )
    burst: float = param(4.0, "assumption", "mean pings per burst (app session)", ge=1, le=1000)
    burst_gap_s: float = param(20.0, "assumption", "mean seconds between pings in a burst", gt=0, le=3600)
    asleep_rate: Rate = param(0.2, "assumption", "ping rate while the holder sleeps, relative to awake")
    dormant_days: Rate = param(0.1, "assumption", "days on which a panel device sends no ping at all")
    sources: Probabilities3 = param(
        (0.55, 0.30, 0.15), "assumption", "pings fixed by GPS, Wi-Fi positioning, cell tower"
    )
    error_m: SourceErrors = Field(default_factory=SourceErrors)
    error_sigma: float = param(0.6, "assumption", "log-sd of a fix's error scale around its source's median", ge=0)
    # -- Wi-Fi sensors -------------------------------------------------------------------
    sensor_share: Rate = param(
        0.25, "assumption", "shops, clinics, places of worship, transit stops and workplaces with a Wi-Fi sensor"
    )
    sightings_per_min: float = param(0.5, "assumption", "sightings a minute of a phone present at a sensor", gt=0)
    rssi_mean: float = param(-70.0, "assumption", "mean received signal strength, dBm", ge=-120, le=0)
    rssi_sd: float = param(8.0, "assumption", "", ge=0, le=40)
    # -- generation ------------------------------------------------------------------------
    spells_per_part: int = param(
        256,
        "model setting",
        "advertising-ID spells per Parquet partition (fixes the partitions, so output does not depend on threads; "
        "about half a million pings each at the defaults, small enough to stay in cache-friendly memory)",
        ge=1,
        le=1_000_000,
    )
