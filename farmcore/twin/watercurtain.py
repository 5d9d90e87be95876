"""The water curtain (수막 재배) of a double-layer plastic house: groundwater over the inner film at night.

Most Korean single-span houses keep their winter nights above freezing this way: a pump lifts groundwater,
which stays near 15 °C through the winter, and sprinkles it on the top of the inner film of a double-layer
house; it runs down between the two layers and is drained (or returned to the aquifer). The inside then loses
heat to a water film near groundwater temperature instead of to the outside, and where the film is warmer than
the air it gives heat to the house.

Sources (the model's form, and its numbers):

* the principle, and groundwater at ≈ 15 °C in winter: Korea Institute of Geoscience and Mineral Resources
  (한국지질자원연구원), aquifer-recirculating water curtain demonstration, reported 2016-01-21
  (https://m.wowtv.co.kr/NewsCenter/AMP/Read?articleId=632016012152400: "지하수는 날씨가 추워도 평균 수온이
  15도 안팎") [secondary, news]; 14 °C groundwater in a Gangneung lettuce house (MBN,
  https://mbn.co.kr/news/society/482615) [secondary, news]; national use ≈ 690 million t of groundwater a
  winter, 40 % of agricultural groundwater (KIGAM, via https://daedeokvalley.tistory.com/615) [secondary];
* the heat balance of a flowing water layer between an inner and an outer cover: U_in·(T_air − T_w) on the
  inside, U_out·(T_w − T_out) on the outside, ṁ·c_p along the flow: Jeong, Han & Shin 2023, "An Experimental
  Study on Heat Transfer Characteristics of Model Greenhouse with Water Flow Glazing", Korean J. Air-Cond.
  Refrig. Eng. 35(11):529, doi:10.6110/KJACR.2023.35.11.529 (nomenclature U_in, U_out, ṁ, c_p) [secondary:
  abstract and symbols read, the equations not];
* the split of the double-layer house's U (3.85 W m⁻² K⁻¹, Kim H-K et al. 2018, Energies 11:578) into an inner
  coefficient (air -> film) and an outer one (film -> outside) of equal resistance: [derived, unverified];
* the flow, 10 L per m² of floor an hour: [unverified]. An order check: 690 million t a winter over some
  1.1·10⁴ ha of water-curtain houses [unverified area] and ≈ 1200 night hours is ≈ 5 L m⁻² h⁻¹;
* the pump: a 5.5 kW submersible pump per 1000 m² [unverified].

Model: plug flow down the film. Along the flow the water relaxes toward T_eq = (U_in·T_air + U_out·T_out) /
(U_in + U_out) with NTU = (U_in + U_out)/G, G = ρ·c_p·(flow per m² of cover); the film's mean temperature
is T_eq + (T_gw − T_eq)·(1 − e^−NTU)/NTU, and the inside exchanges U_in·(T_air − T_film) with it per m² of
cover. The film holds little water (its heat capacity is left out: it settles in seconds).
"""

from __future__ import annotations

import math

RHO_CP_WATER = 4.186e6  # J m-3 K-1
GROUNDWATER_C = 15.0  # °C, a Korean winter's groundwater (KIGAM, above) [secondary]


def film_temperature(air_c: float, outside_c: float, groundwater_c: float, u_in: float, u_out: float,
                     flow_l_m2_cover_h: float) -> float:
    """The water film's mean temperature, °C, over the cover it flows down (plug flow, see the docstring).
    `u_in`, `u_out` in W m-2 K-1 per m² of cover; the flow in L per m² of cover an hour."""
    g = RHO_CP_WATER * flow_l_m2_cover_h / 1000.0 / 3600.0  # W m-2 K-1
    u = u_in + u_out
    t_eq = (u_in * air_c + u_out * outside_c) / u
    if g <= 0.0:
        return t_eq
    ntu = u / g
    return t_eq + (groundwater_c - t_eq) * (1.0 - math.exp(-ntu)) / ntu
