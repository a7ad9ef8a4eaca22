#include "gateway/fhir/observation.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "gateway/core/json.hpp"
#include "gateway/core/observation_identity.hpp"
#include "gateway/core/vital_signs.hpp"

namespace ehg::fhir {
namespace {

using core::JsonNumber;
using core::JsonQuote;
using core::JsonValue;

// The R4 vital-signs profiles, by LOINC code: each fixes the code (and the blood pressure panel its
// components) and the UCUM units allowed.
struct VitalSign {
  std::string_view loinc;
  std::string_view profile;
  std::string_view display;
  // Some profiles fix a code other than the one we measure by (SpO2 by pulse oximetry is a kind of
  // arterial oxygen saturation): that code is written first.
  std::string_view profile_loinc;
  std::string_view profile_display;
};

constexpr std::array kVitalSigns{
    VitalSign{"8867-4", "http://hl7.org/fhir/StructureDefinition/heartrate", "Heart rate", "", ""},
    VitalSign{"59408-5", "http://hl7.org/fhir/StructureDefinition/oxygensat",
              "Oxygen saturation in Arterial blood by Pulse oximetry", "2708-6",
              "Oxygen saturation in Arterial blood"},
    VitalSign{"9279-1", "http://hl7.org/fhir/StructureDefinition/resprate", "Respiratory rate", "", ""},
    VitalSign{"8310-5", "http://hl7.org/fhir/StructureDefinition/bodytemp", "Body temperature", "", ""},
    VitalSign{"29463-7", "http://hl7.org/fhir/StructureDefinition/bodyweight", "Body weight", "", ""},
    VitalSign{"8302-2", "http://hl7.org/fhir/StructureDefinition/bodyheight", "Body height", "", ""},
    VitalSign{"39156-5", "http://hl7.org/fhir/StructureDefinition/bmi", "Body mass index (BMI) [Ratio]", "",
              ""},
};
constexpr std::string_view kBloodPressureProfile = "http://hl7.org/fhir/StructureDefinition/bp";
constexpr std::string_view kBloodPressurePanel = "85354-9";
constexpr std::string_view kVitalSignsProfile = "http://hl7.org/fhir/StructureDefinition/vitalsigns";

const VitalSign* FindVitalSign(std::string_view loinc) {
  for (const VitalSign& sign : kVitalSigns) {
    if (sign.loinc == loinc) return &sign;
  }
  return nullptr;
}

std::string_view LoincDisplay(std::string_view loinc) {
  if (const VitalSign* sign = FindVitalSign(loinc)) return sign->display;
  if (loinc == "8480-6") return "Systolic blood pressure";
  if (loinc == "8462-4") return "Diastolic blood pressure";
  if (loinc == "8478-0") return "Mean blood pressure";
  if (loinc == "15074-8") return "Glucose [Moles/volume] in Blood";
  if (loinc == "61006-3") return "Perfusion index Tissue by Pulse oximetry";
  if (loinc == "67775-7") return "Level of responsiveness";
  return {};
}

bool IsBloodPressure(std::string_view metric) {
  return metric == "bp.systolic" || metric == "bp.diastolic" || metric == "bp.mean";
}

std::string Coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  std::string coding = "{\"system\":" + JsonQuote(system) + ",\"code\":" + JsonQuote(code);
  if (!display.empty()) coding += ",\"display\":" + JsonQuote(display);
  return coding + "}";
}

// A metric's codes: LOINC first (the profile's fixed code before it when the profile asks for another),
// then the IEEE 11073 (MDC) code; our own code system for metrics LOINC has no code for.
std::string CodeableConcept(const core::MetricInfo& info) {
  std::vector<std::string> codings;
  if (!info.loinc.empty()) {
    const VitalSign* sign = FindVitalSign(info.loinc);
    if (sign != nullptr && !sign->profile_loinc.empty()) {
      codings.push_back(Coding(kLoinc, sign->profile_loinc, sign->profile_display));
    }
    codings.push_back(Coding(kLoinc, info.loinc, LoincDisplay(info.loinc)));
  }
  if (info.mdc != 0) codings.push_back(Coding(kMdc, std::to_string(info.mdc)));
  if (codings.empty()) codings.push_back(Coding(kMetricSystem, info.name));
  std::string concept_json = "{\"coding\":[";
  for (std::size_t i = 0; i < codings.size(); ++i)
    concept_json += (i ? "," : "") + codings[i];
  return concept_json + "],\"text\":" + JsonQuote(info.name) + "}";
}

// The value as the profile wants it: body height in centimetres (the R4 bodyheight profile allows cm
// and [in_i], not m).
std::string Quantity(const StoredObservation& reading) {
  double value = reading.value;
  std::string unit = reading.unit;
  if (reading.metric == "body_height" && unit == "m") {
    value = std::round(value * 1000.0) / 10.0;
    unit = "cm";
  }
  return "{\"value\":" + JsonNumber(value) + ",\"unit\":" + JsonQuote(unit) +
         ",\"system\":" + JsonQuote(kUcum) + ",\"code\":" + JsonQuote(unit) + "}";
}

std::string_view AcvpuCode(double value) {
  static constexpr std::array<std::string_view, 5> kCodes{"A", "C", "V", "P", "U"};
  const auto index = static_cast<std::size_t>(std::clamp(value, 0.0, 4.0));
  return kCodes[index];
}

// value[x] by the metric's kind.
std::string Value(const StoredObservation& reading, const core::MetricInfo& info) {
  switch (info.kind) {
    case core::MetricKind::kQuantity:
      return "\"valueQuantity\":" + Quantity(reading);
    case core::MetricKind::kBoolean:
      return std::string("\"valueBoolean\":") + (reading.value != 0 ? "true" : "false");
    case core::MetricKind::kCode:
      return "\"valueCodeableConcept\":{\"coding\":[" +
             Coding("urn:ehealth-gateway:acvpu", AcvpuCode(reading.value)) + "]}";
    case core::MetricKind::kEvent:
      return "\"valueInteger\":" + JsonNumber(std::round(reading.value));
  }
  return "\"valueQuantity\":" + Quantity(reading);
}

std::string Category(std::string_view code, std::string_view display) {
  return "[{\"coding\":[" + Coding(kCategorySystem, code, display) + "],\"text\":" + JsonQuote(display) +
         "}]";
}

std::string CategoryFor(const core::MetricInfo& info) {
  if (info.name == "glucose") return Category("laboratory", "Laboratory");
  if (info.kind == core::MetricKind::kEvent) return Category("activity", "Activity");
  if (info.name == "battery" || info.name == "ambient_temperature" || info.name == "relative_humidity") {
    return Category("survey", "Survey");  // about the device or the room, not the resident's body
  }
  return Category("vital-signs", "Vital Signs");
}

std::string Identifier(const StoredObservation& reading) {
  return "{\"system\":" + JsonQuote(core::kObservationIdentifierSystem) + ",\"value\":" +
         JsonQuote(core::ObservationIdentifier(reading.gateway, reading.device, reading.subject,
                                               reading.metric, reading.effective)) +
         "}";
}

// Quality flags and an uncertain time, in words a clinician reads; never hidden.
std::string Notes(const std::vector<const StoredObservation*>& parts) {
  std::vector<std::string> flags;
  bool time_uncertain = false;
  std::optional<core::WallTime> suspect_device_time;
  for (const StoredObservation* part : parts) {
    for (const std::string& flag : part->flags) {
      if (std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.push_back(flag);
    }
    time_uncertain = time_uncertain || part->time_uncertain;
    if (part->suspect_device_time) suspect_device_time = part->suspect_device_time;
  }
  std::vector<std::string> notes;
  if (!flags.empty()) {
    std::string text = "device quality flags:";
    for (std::size_t i = 0; i < flags.size(); ++i)
      text += (i ? ", " : " ") + flags[i];
    notes.push_back("{\"text\":" + JsonQuote(text) + "}");
  }
  if (time_uncertain) {
    notes.push_back("{\"text\":\"time uncertain: measured before the gateway clock was synchronised\"}");
  }
  if (suspect_device_time) {
    notes.push_back("{\"text\":" +
                    JsonQuote("device clock implausible: the device stamped " +
                              core::FormatIso8601(*suspect_device_time) +
                              "; the time given is when the gateway received the measurement") +
                    "}");
  }
  if (notes.empty()) return {};
  std::string out = ",\"note\":[";
  for (std::size_t i = 0; i < notes.size(); ++i)
    out += (i ? "," : "") + notes[i];
  return out + "]";
}

const JsonValue* Member(const JsonValue& object, std::string_view key, JsonValue::Type type) {
  const JsonValue* value = object.Find(key);
  return value != nullptr && value->type == type ? value : nullptr;
}

}  // namespace

Result<StoredObservation> ReadObservationBody(std::string_view body) {
  auto json = core::ParseJson(body);
  if (!json || json->type != JsonValue::Type::kObject)
    return Fail(Errc::kParse, "observation body is not a JSON object");
  using Type = JsonValue::Type;
  const JsonValue* schema = Member(*json, "schema", Type::kString);
  if (schema == nullptr || schema->text != "ehealth-gateway/observation/v0") {
    return Fail(Errc::kParse, "not an ehealth-gateway/observation/v0 body");
  }
  StoredObservation reading;
  for (const auto& [key, out] : {std::pair<std::string_view, std::string*>{"event_id", &reading.event_id},
                                 {"gateway", &reading.gateway},
                                 {"subject", &reading.subject},
                                 {"device", &reading.device},
                                 {"metric", &reading.metric},
                                 {"unit", &reading.unit}}) {
    const JsonValue* value = Member(*json, key, Type::kString);
    if (value == nullptr) return Fail(Errc::kParse, "observation body has no \"" + std::string(key) + "\"");
    *out = value->text;
  }
  const JsonValue* value = Member(*json, "value", Type::kNumber);
  const JsonValue* effective = Member(*json, "effective", Type::kString);
  const JsonValue* received = Member(*json, "received", Type::kString);
  if (value == nullptr || effective == nullptr || received == nullptr) {
    return Fail(Errc::kParse, "observation body lacks value or times");
  }
  reading.value = value->number;
  const auto effective_time = core::ParseIso8601(effective->text);
  const auto received_time = core::ParseIso8601(received->text);
  if (!effective_time || !received_time) return Fail(Errc::kParse, "observation body has unreadable times");
  reading.effective = *effective_time;
  reading.received = *received_time;
  if (const JsonValue* uncertain = Member(*json, "time_uncertain", Type::kBool))
    reading.time_uncertain = uncertain->boolean;
  if (const JsonValue* flags = Member(*json, "flags", Type::kArray)) {
    for (const JsonValue& flag : flags->items) {
      if (flag.type == Type::kString) reading.flags.push_back(flag.text);
    }
  }
  if (const JsonValue* sequence = Member(*json, "sequence", Type::kNumber)) {
    reading.sequence = static_cast<std::uint32_t>(sequence->number);
  }
  if (const JsonValue* suspect = Member(*json, "device_clock_suspect", Type::kBool);
      suspect && suspect->boolean) {
    const JsonValue* claimed = Member(*json, "device_time", Type::kString);
    const auto claimed_time = claimed != nullptr ? core::ParseIso8601(claimed->text) : std::nullopt;
    if (!claimed_time)
      return Fail(Errc::kParse, "observation body has a suspect device clock without its time");
    reading.suspect_device_time = *claimed_time;
  }
  if (core::FindMetric(reading.metric) == nullptr)
    return Fail(Errc::kParse, "observation of an unknown metric");
  return reading;
}

std::string ObservationResource(const std::vector<const StoredObservation*>& parts) {
  const StoredObservation& first = *parts.front();
  const core::MetricInfo& first_info = *core::FindMetric(first.metric);
  const bool blood_pressure =
      IsBloodPressure(first.metric) && (parts.size() > 1 || first.metric != "bp.mean");
  std::string profile;
  std::string code;
  std::string category;
  if (blood_pressure) {
    const bool complete =
        std::any_of(parts.begin(), parts.end(), [](auto* p) { return p->metric == "bp.systolic"; }) &&
        std::any_of(parts.begin(), parts.end(), [](auto* p) { return p->metric == "bp.diastolic"; });
    profile = std::string(complete ? kBloodPressureProfile : kVitalSignsProfile);
    code = "{\"coding\":[" +
           Coding(kLoinc, kBloodPressurePanel, "Blood pressure panel with all children optional") +
           "],\"text\":\"blood pressure\"}";
    category = CategoryFor(first_info);
  } else {
    const VitalSign* sign = FindVitalSign(first_info.loinc);
    if (sign != nullptr) profile = std::string(sign->profile);
    code = CodeableConcept(first_info);
    category = CategoryFor(first_info);
  }

  std::string resource = "{\"resourceType\":\"Observation\"";
  if (!profile.empty()) resource += ",\"meta\":{\"profile\":[" + JsonQuote(profile) + "]}";
  // One identifier per measured value: an alert's evidence names the one it refers to.
  resource += ",\"identifier\":[";
  for (std::size_t i = 0; i < parts.size(); ++i)
    resource += (i ? "," : "") + Identifier(*parts[i]);
  // The event ids of the parts after the first (whose id is the entry's fullUrl): each part is an
  // event of its own in the gateway's outbox, and the care system's receipt must name them all.
  for (std::size_t i = 1; i < parts.size(); ++i) {
    resource += ",{\"system\":" + JsonQuote(kEventIdSystem) +
                ",\"value\":" + JsonQuote("urn:uuid:" + parts[i]->event_id) + "}";
  }
  resource += "],\"status\":\"final\",\"category\":" + category + ",\"code\":" + code;
  resource += ",\"subject\":{\"type\":\"Patient\",\"identifier\":{\"system\":" + JsonQuote(kPseudonymSystem) +
              ",\"value\":" + JsonQuote(first.subject) + "}}";
  resource += ",\"effectiveDateTime\":" + JsonQuote(core::FormatIso8601(first.effective));
  resource += ",\"issued\":" + JsonQuote(core::FormatIso8601(first.received));
  resource += ",\"device\":{\"identifier\":{\"system\":" +
              JsonQuote(std::string(kDeviceSystemPrefix) + first.gateway) +
              ",\"value\":" + JsonQuote(first.device) + "},\"display\":" + JsonQuote(first.device) + "}";
  if (blood_pressure) {
    resource += ",\"component\":[";
    // Systolic, diastolic, mean: the order the profile lists them in.
    std::vector<const StoredObservation*> ordered(parts);
    const auto rank = [](const StoredObservation* p) {
      return p->metric == "bp.systolic" ? 0 : p->metric == "bp.diastolic" ? 1 : 2;
    };
    std::stable_sort(ordered.begin(), ordered.end(), [&](auto* a, auto* b) { return rank(a) < rank(b); });
    for (std::size_t i = 0; i < ordered.size(); ++i) {
      const core::MetricInfo& info = *core::FindMetric(ordered[i]->metric);
      resource += std::string(i ? "," : "") + "{\"code\":" + CodeableConcept(info) +
                  ",\"valueQuantity\":" + Quantity(*ordered[i]) + "}";
    }
    resource += "]";
  } else {
    resource += "," + Value(first, first_info);
  }
  resource += Notes(parts);
  return resource + "}";
}

BundleResult ObservationBundle(const std::vector<const std::string*>& bodies) {
  BundleResult result;
  std::vector<StoredObservation> readings;
  readings.reserve(bodies.size());
  for (const std::string* body : bodies) {
    auto reading = ReadObservationBody(*body);
    if (reading) {
      readings.push_back(std::move(*reading));
    } else {
      ++result.unreadable;
    }
  }
  // Blood pressure parts of one measurement (same device and time) join the first of them.
  std::vector<std::vector<const StoredObservation*>> groups;
  for (const StoredObservation& reading : readings) {
    if (IsBloodPressure(reading.metric)) {
      const auto same_measurement = std::find_if(groups.begin(), groups.end(), [&](const auto& group) {
        const StoredObservation& head = *group.front();
        return IsBloodPressure(head.metric) && head.device == reading.device &&
               head.effective == reading.effective &&
               std::none_of(group.begin(), group.end(), [&](auto* p) { return p->metric == reading.metric; });
      });
      if (same_measurement != groups.end()) {
        same_measurement->push_back(&reading);
        continue;
      }
    }
    groups.push_back({&reading});
  }
  std::string json = "{\"resourceType\":\"Bundle\",\"type\":\"batch\"";
  if (groups.empty()) {  // FHIR JSON has no empty arrays
    result.json = json + "}";
    return result;
  }
  json += ",\"entry\":[";
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const StoredObservation& head = *groups[i].front();
    const std::string identifier =
        core::ObservationIdentifier(head.gateway, head.device, head.subject, head.metric, head.effective);
    json += std::string(i ? "," : "") + "{\"fullUrl\":" + JsonQuote("urn:uuid:" + head.event_id) +
            ",\"resource\":" + ObservationResource(groups[i]) +
            ",\"request\":{\"method\":\"POST\",\"url\":\"Observation\",\"ifNoneExist\":" +
            JsonQuote("identifier=" + std::string(core::kObservationIdentifierSystem) + "|" + identifier) +
            "}}";
  }
  result.json = json + "]}";
  result.observations = groups.size();
  return result;
}

}  // namespace ehg::fhir
