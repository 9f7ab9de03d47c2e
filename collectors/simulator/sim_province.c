/* Long An province: its 15 district-level units and their real-ish sizes. */
#include "sim.h"

/* Population in thousands (2019 census, rounded); sensors, lights and cameras at scale 1. */
const sim_district_info_t sim_districts[SIM_NDISTRICTS] = {
    {"Tân An", "TA", 145.0, 50, 3500, 340, 50.0},
    {"Kiến Tường", "KT", 65.0, 12, 1000, 100, 50.0},
    {"Bến Lức", "BL", 190.0, 40, 2200, 220, 65.0},
    {"Đức Hòa", "DHO", 310.0, 40, 3100, 290, 55.0},
    {"Đức Huệ", "DHU", 65.0, 10, 700, 70, 55.0},
    {"Cần Giuộc", "CG", 200.0, 28, 1800, 180, 55.0},
    {"Cần Đước", "CD", 185.0, 25, 1600, 160, 55.0},
    {"Châu Thành", "CT", 110.0, 15, 1000, 100, 60.0},
    {"Tân Trụ", "TTR", 65.0, 10, 700, 70, 55.0},
    {"Thủ Thừa", "TTH", 100.0, 15, 1000, 100, 60.0},
    {"Thạnh Hóa", "THH", 55.0, 10, 700, 70, 60.0},
    {"Tân Thạnh", "TTA", 80.0, 12, 900, 90, 60.0},
    {"Mộc Hóa", "MH", 30.0, 8, 500, 60, 60.0},
    {"Vĩnh Hưng", "VH", 55.0, 10, 700, 70, 60.0},
    {"Tân Hưng", "THG", 50.0, 8, 600, 60, 60.0},
};
