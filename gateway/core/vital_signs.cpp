#include "gateway/core/vital_signs.hpp"

#include <array>

namespace ehg::core {
namespace {

// MDC codes from IEEE 11073-10101 (partition 2 = SCADA, 4 = dimension-less body measures):
// code = partition * 65536 + term code. pulse_rate carries the oximeter code (149530); a blood pressure
// monitor's pulse is MDC_PULS_RATE_NON_INV (149546), chosen by the FHIR mapping from the device type.
constexpr std::array kCatalogue{
    MetricInfo{"bp.systolic", "mm[Hg]", "8480-6", 150021, MetricKind::kQuantity, 20, 300},
    MetricInfo{"bp.diastolic", "mm[Hg]", "8462-4", 150022, MetricKind::kQuantity, 10, 250},
    MetricInfo{"bp.mean", "mm[Hg]", "8478-0", 150023, MetricKind::kQuantity, 15, 270},
    MetricInfo{"pulse_rate", "/min", "8867-4", 149530, MetricKind::kQuantity, 15, 350},
    MetricInfo{"heart_rate", "/min", "8867-4", 147842, MetricKind::kQuantity, 15, 350},
    MetricInfo{"rr_interval", "ms", "", 0, MetricKind::kQuantity, 150, 4000},
    MetricInfo{"spo2", "%", "59408-5", 150456, MetricKind::kQuantity, 30, 100},
    // Plethysmogram points in the device's own scale; forwarded only when a device is configured to.
    MetricInfo{"pleth", "1", "", 0, MetricKind::kQuantity, 0, 65535},
    MetricInfo{"perfusion_index", "%", "61006-3", 150488, MetricKind::kQuantity, 0, 30},
    MetricInfo{"respiration_rate", "/min", "9279-1", 151562, MetricKind::kQuantity, 1, 90},
    MetricInfo{"body_temperature", "Cel", "8310-5", 150364, MetricKind::kQuantity, 25, 45},
    MetricInfo{"body_weight", "kg", "29463-7", 188736, MetricKind::kQuantity, 1, 400},
    MetricInfo{"body_height", "m", "8302-2", 188740, MetricKind::kQuantity, 0.3, 2.6},
    MetricInfo{"bmi", "kg/m2", "39156-5", 188752, MetricKind::kQuantity, 5, 150},
    MetricInfo{"glucose", "mmol/L", "15074-8", 160368, MetricKind::kQuantity, 0.3, 60},
    MetricInfo{"consciousness", "1", "67775-7", 0, MetricKind::kCode, 0, 4},
    MetricInfo{"supplemental_oxygen", "1", "", 0, MetricKind::kBoolean, 0, 1},
    MetricInfo{"battery", "%", "", 0, MetricKind::kQuantity, 0, 100},
    // The home's climate (BTHome sensors): a cold flat is a risk for a frail resident.
    MetricInfo{"ambient_temperature", "Cel", "", 0, MetricKind::kQuantity, -40, 85},
    MetricInfo{"relative_humidity", "%", "", 0, MetricKind::kQuantity, 0, 100},
    MetricInfo{"motion", "1", "", 0, MetricKind::kEvent, 0, 255},
    MetricInfo{"door", "1", "", 0, MetricKind::kEvent, 0, 255},
    MetricInfo{"button", "1", "", 0, MetricKind::kEvent, 0, 255},
    MetricInfo{"fall", "1", "", 0, MetricKind::kEvent, 0, 255},
};

}  // namespace

std::span<const MetricInfo> AllMetrics() {
  return kCatalogue;
}

const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& metric : kCatalogue) {
    if (metric.name == name) return &metric;
  }
  return nullptr;
}

}  // namespace ehg::core
