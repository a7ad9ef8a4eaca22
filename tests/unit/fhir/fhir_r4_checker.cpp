#include "tests/unit/fhir/fhir_r4_checker.hpp"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "gateway/core/json.hpp"

namespace ehg::test {
namespace {

using core::JsonValue;
using Type = JsonValue::Type;

class Checker {
 public:
  std::vector<std::string> problems;

  void Problem(const std::string& path, const std::string& what) { problems.push_back(path + ": " + what); }

  // json.html: no nulls, no empty strings, objects or arrays anywhere.
  void NoEmpties(const JsonValue& value, const std::string& path) {
    switch (value.type) {
      case Type::kNull:
        Problem(path, "null is not allowed in FHIR JSON");
        break;
      case Type::kString:
        if (value.text.empty()) Problem(path, "empty string");
        break;
      case Type::kArray:
        if (value.items.empty()) Problem(path, "empty array");
        for (std::size_t i = 0; i < value.items.size(); ++i)
          NoEmpties(value.items[i], path + "[" + std::to_string(i) + "]");
        break;
      case Type::kObject:
        if (value.members.empty()) Problem(path, "empty object");
        for (const auto& member : value.members)
          NoEmpties(member.value, path + "." + member.key);
        break;
      default:
        break;
    }
  }

  void OnlyKnown(const JsonValue& object, const std::string& path, const std::set<std::string>& allowed) {
    for (const auto& member : object.members) {
      if (allowed.count(member.key) == 0) Problem(path + "." + member.key, "not an element of this type");
    }
  }

  const JsonValue* Required(const JsonValue& object, const std::string& path, std::string_view key,
                            Type type) {
    const JsonValue* value = object.Find(key);
    if (value == nullptr) {
      Problem(path + "." + std::string(key), "required (min 1) but missing");
      return nullptr;
    }
    if (value->type != type) {
      Problem(path + "." + std::string(key), "wrong JSON type");
      return nullptr;
    }
    return value;
  }

  void Uri(const JsonValue* value, const std::string& path) {
    static const std::regex kUri(R"(\S+:\S+)");
    if (value != nullptr && !std::regex_match(value->text, kUri)) Problem(path, "not an absolute uri");
  }

  void Code(const JsonValue* value, const std::string& path) {
    static const std::regex kCode(R"([^\s]+( [^\s]+)*)");
    if (value != nullptr && !std::regex_match(value->text, kCode)) Problem(path, "not a FHIR code");
  }

  void DateTime(const JsonValue* value, const std::string& path, bool instant) {
    // datatypes.html: instant needs seconds and a zone; dateTime needs a zone when a time is given.
    static const std::regex kInstant(
        R"(\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00)))");
    if (value == nullptr) return;
    if (value->type != Type::kString || !std::regex_match(value->text, kInstant)) {
      Problem(path, instant ? "not a FHIR instant" : "not a FHIR dateTime with a time zone");
    }
  }

  void Coding(const JsonValue& coding, const std::string& path) {
    if (coding.type != Type::kObject) return Problem(path, "a Coding is an object");
    OnlyKnown(coding, path, {"id", "extension", "system", "version", "code", "display", "userSelected"});
    Uri(Required(coding, path, "system", Type::kString), path + ".system");
    Code(Required(coding, path, "code", Type::kString), path + ".code");
  }

  void CodeableConcept(const JsonValue* concept_json, const std::string& path) {
    if (concept_json == nullptr) return;
    OnlyKnown(*concept_json, path, {"id", "extension", "coding", "text"});
    if (const JsonValue* codings = concept_json->Find("coding")) {
      for (std::size_t i = 0; i < codings->items.size(); ++i)
        Coding(codings->items[i], path + ".coding[" + std::to_string(i) + "]");
    }
  }

  bool HasCoding(const JsonValue* concept_json, std::string_view system, std::string_view code) {
    if (concept_json == nullptr) return false;
    const JsonValue* codings = concept_json->Find("coding");
    if (codings == nullptr) return false;
    return std::any_of(codings->items.begin(), codings->items.end(), [&](const JsonValue& coding) {
      const JsonValue* s = coding.Find("system");
      const JsonValue* c = coding.Find("code");
      return s != nullptr && c != nullptr && s->text == system && c->text == code;
    });
  }

  void Identifier(const JsonValue& identifier, const std::string& path) {
    OnlyKnown(identifier, path, {"id", "extension", "use", "type", "system", "value", "period", "assigner"});
    Uri(identifier.Find("system"), path + ".system");
  }

  void Reference(const JsonValue* reference, const std::string& path) {
    if (reference == nullptr) return;
    OnlyKnown(*reference, path, {"id", "extension", "reference", "type", "identifier", "display"});
    // ref-1: a reference, an identifier or a display; the type is a resource type name.
    if (!reference->Find("reference") && !reference->Find("identifier") && !reference->Find("display")) {
      Problem(path, "a Reference needs reference, identifier or display");
    }
    if (const JsonValue* identifier = reference->Find("identifier"))
      Identifier(*identifier, path + ".identifier");
  }

  // UCUM units each vital-signs profile allows (observation-vitalsigns.html), by profile.
  void Quantity(const JsonValue* quantity, const std::string& path, const std::set<std::string>& units) {
    if (quantity == nullptr) return;
    OnlyKnown(*quantity, path, {"id", "extension", "value", "comparator", "unit", "system", "code"});
    Required(*quantity, path, "value", Type::kNumber);
    const JsonValue* system = quantity->Find("system");
    const JsonValue* code = quantity->Find("code");
    // qty-3: a code needs a system.
    if (code != nullptr && system == nullptr) Problem(path, "qty-3: code without system");
    if (!units.empty()) {
      if (system == nullptr || system->text != "http://unitsofmeasure.org")
        Problem(path + ".system", "must be UCUM");
      if (code == nullptr || units.count(code->text) == 0)
        Problem(path + ".code", "unit not allowed by the profile");
    }
  }

  void Observation(const JsonValue& resource, const std::string& path) {
    if (resource.type != Type::kObject) return Problem(path, "a resource is an object");
    static const std::set<std::string> kElements = {"resourceType",
                                                    "id",
                                                    "meta",
                                                    "implicitRules",
                                                    "language",
                                                    "text",
                                                    "contained",
                                                    "extension",
                                                    "modifierExtension",
                                                    "identifier",
                                                    "basedOn",
                                                    "partOf",
                                                    "status",
                                                    "category",
                                                    "code",
                                                    "subject",
                                                    "focus",
                                                    "encounter",
                                                    "effectiveDateTime",
                                                    "effectivePeriod",
                                                    "effectiveTiming",
                                                    "effectiveInstant",
                                                    "issued",
                                                    "performer",
                                                    "valueQuantity",
                                                    "valueCodeableConcept",
                                                    "valueString",
                                                    "valueBoolean",
                                                    "valueInteger",
                                                    "valueRange",
                                                    "valueRatio",
                                                    "valueSampledData",
                                                    "valueTime",
                                                    "valueDateTime",
                                                    "valuePeriod",
                                                    "dataAbsentReason",
                                                    "interpretation",
                                                    "note",
                                                    "bodySite",
                                                    "method",
                                                    "specimen",
                                                    "device",
                                                    "referenceRange",
                                                    "hasMember",
                                                    "derivedFrom",
                                                    "component"};
    OnlyKnown(resource, path, kElements);
    NoEmpties(resource, path);
    const JsonValue* type = Required(resource, path, "resourceType", Type::kString);
    if (type != nullptr && type->text != "Observation") Problem(path + ".resourceType", "not Observation");
    static const std::set<std::string> kStatus = {"registered",       "preliminary", "final",
                                                  "amended",          "corrected",   "cancelled",
                                                  "entered-in-error", "unknown"};
    const JsonValue* status = Required(resource, path, "status", Type::kString);
    if (status != nullptr && kStatus.count(status->text) == 0)
      Problem(path + ".status", "not in ObservationStatus");
    const JsonValue* code = Required(resource, path, "code", Type::kObject);
    CodeableConcept(code, path + ".code");
    if (const JsonValue* identifiers = resource.Find("identifier")) {
      for (std::size_t i = 0; i < identifiers->items.size(); ++i) {
        Identifier(identifiers->items[i], path + ".identifier[" + std::to_string(i) + "]");
      }
    }
    const JsonValue* categories = resource.Find("category");
    if (categories != nullptr) {
      for (std::size_t i = 0; i < categories->items.size(); ++i) {
        CodeableConcept(&categories->items[i], path + ".category[" + std::to_string(i) + "]");
      }
    }
    Reference(resource.Find("subject"), path + ".subject");
    Reference(resource.Find("device"), path + ".device");
    DateTime(resource.Find("effectiveDateTime"), path + ".effectiveDateTime", false);
    DateTime(resource.Find("issued"), path + ".issued", true);
    if (const JsonValue* notes = resource.Find("note")) {
      for (std::size_t i = 0; i < notes->items.size(); ++i) {
        const std::string note_path = path + ".note[" + std::to_string(i) + "]";
        OnlyKnown(notes->items[i], note_path,
                  {"id", "extension", "authorReference", "authorString", "time", "text"});
        Required(notes->items[i], note_path, "text", Type::kString);
      }
    }
    int values = 0;
    for (const auto& member : resource.members)
      values += member.key.starts_with("value") ? 1 : 0;
    if (values > 1) Problem(path, "value[x] has max 1");
    // obs-6: dataAbsentReason only when there is no value.
    if (values > 0 && resource.Find("dataAbsentReason")) Problem(path, "obs-6 violated");
    // obs-7: a component code differs from the observation code.
    const JsonValue* components = resource.Find("component");

    const JsonValue* meta = resource.Find("meta");
    const JsonValue* profiles = meta != nullptr ? meta->Find("profile") : nullptr;
    for (std::size_t i = 0; profiles != nullptr && i < profiles->items.size(); ++i) {
      VitalSignsProfile(resource, profiles->items[i].text, path, values, components);
    }
    if (components != nullptr) {
      for (std::size_t i = 0; i < components->items.size(); ++i) {
        const JsonValue& component = components->items[i];
        const std::string component_path = path + ".component[" + std::to_string(i) + "]";
        OnlyKnown(component, component_path,
                  {"id", "extension", "modifierExtension", "code", "valueQuantity", "valueCodeableConcept",
                   "valueString", "valueBoolean", "valueInteger", "valueRange", "valueRatio",
                   "valueSampledData", "valueTime", "valueDateTime", "valuePeriod", "dataAbsentReason",
                   "interpretation", "referenceRange"});
        CodeableConcept(Required(component, component_path, "code", Type::kObject), component_path + ".code");
      }
    }
  }

  // observation-vitalsigns.html: vs-1 (effectiveDateTime to the day), vs-2 (value, component or absent
  // reason), vs-3 (component value or absent reason), category vital-signs, subject, effective, the
  // profile's code and units.
  void VitalSignsProfile(const JsonValue& resource, const std::string& profile, const std::string& path,
                         int values, const JsonValue* components) {
    static const std::map<std::string, std::pair<std::string, std::set<std::string>>> kProfiles = {
        {"http://hl7.org/fhir/StructureDefinition/heartrate", {"8867-4", {"/min"}}},
        {"http://hl7.org/fhir/StructureDefinition/resprate", {"9279-1", {"/min"}}},
        {"http://hl7.org/fhir/StructureDefinition/oxygensat", {"2708-6", {"%"}}},
        {"http://hl7.org/fhir/StructureDefinition/bodytemp", {"8310-5", {"Cel", "[degF]"}}},
        {"http://hl7.org/fhir/StructureDefinition/bodyweight", {"29463-7", {"kg", "g", "[lb_av]"}}},
        {"http://hl7.org/fhir/StructureDefinition/bodyheight", {"8302-2", {"cm", "[in_i]"}}},
        {"http://hl7.org/fhir/StructureDefinition/bmi", {"39156-5", {"kg/m2"}}},
        {"http://hl7.org/fhir/StructureDefinition/bp", {"85354-9", {}}},
        {"http://hl7.org/fhir/StructureDefinition/vitalsigns", {"", {}}},
    };
    const auto known = kProfiles.find(profile);
    if (known == kProfiles.end()) return Problem(path + ".meta.profile", "unknown profile " + profile);
    const std::string& fixed_code = known->second.first;
    const auto& units = known->second.second;
    bool vital_signs_category = false;
    if (const JsonValue* categories = resource.Find("category")) {
      for (const JsonValue& category : categories->items) {
        vital_signs_category =
            vital_signs_category ||
            HasCoding(&category, "http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs");
      }
    }
    if (!vital_signs_category) Problem(path + ".category", "vital signs need the vital-signs category");
    if (resource.Find("subject") == nullptr)
      Problem(path + ".subject", "required by the vital signs profile");
    if (resource.Find("effectiveDateTime") == nullptr && resource.Find("effectivePeriod") == nullptr) {
      Problem(path + ".effective[x]", "required by the vital signs profile");
    }
    if (values == 0 && components == nullptr && resource.Find("dataAbsentReason") == nullptr) {
      Problem(path, "vs-2: no value, component or dataAbsentReason");
    }
    if (!fixed_code.empty() && !HasCoding(resource.Find("code"), "http://loinc.org", fixed_code)) {
      Problem(path + ".code", "the profile fixes LOINC " + fixed_code);
    }
    if (!units.empty()) Quantity(resource.Find("valueQuantity"), path + ".valueQuantity", units);
    if (profile == "http://hl7.org/fhir/StructureDefinition/bp") {
      for (const std::string loinc : {"8480-6", "8462-4"}) {
        bool found = false;
        for (std::size_t i = 0; components != nullptr && i < components->items.size(); ++i) {
          const JsonValue& component = components->items[i];
          if (!HasCoding(component.Find("code"), "http://loinc.org", loinc)) continue;
          found = true;
          Quantity(component.Find("valueQuantity"),
                   path + ".component[" + std::to_string(i) + "].valueQuantity", {"mm[Hg]"});
          if (!component.Find("valueQuantity") && !component.Find("dataAbsentReason")) Problem(path, "vs-3");
        }
        if (!found) Problem(path + ".component", "the bp profile requires a " + loinc + " component");
      }
    }
  }
};

}  // namespace

std::vector<std::string> CheckObservation(std::string_view json) {
  Checker checker;
  auto parsed = core::ParseJson(json);
  if (!parsed) return {"not JSON: " + parsed.error().message};
  checker.Observation(*parsed, "Observation");
  return checker.problems;
}

std::vector<std::string> CheckBundle(std::string_view json) {
  Checker checker;
  auto parsed = core::ParseJson(json);
  if (!parsed) return {"not JSON: " + parsed.error().message};
  const JsonValue& bundle = *parsed;
  checker.OnlyKnown(bundle, "Bundle",
                    {"resourceType", "id", "meta", "implicitRules", "language", "identifier", "type",
                     "timestamp", "total", "link", "entry", "signature"});
  checker.NoEmpties(bundle, "Bundle");
  const JsonValue* type = checker.Required(bundle, "Bundle", "type", Type::kString);
  static const std::set<std::string> kTypes = {
      "document", "message",   "transaction", "transaction-response", "batch", "batch-response",
      "history",  "searchset", "collection"};
  if (type != nullptr && kTypes.count(type->text) == 0) checker.Problem("Bundle.type", "not a BundleType");
  const bool batch = type != nullptr && (type->text == "batch" || type->text == "transaction");
  std::set<std::string> full_urls;
  if (const JsonValue* entries = bundle.Find("entry")) {
    for (std::size_t i = 0; i < entries->items.size(); ++i) {
      const JsonValue& entry = entries->items[i];
      const std::string path = "Bundle.entry[" + std::to_string(i) + "]";
      checker.OnlyKnown(entry, path,
                        {"id", "extension", "link", "fullUrl", "resource", "search", "request", "response"});
      if (const JsonValue* full_url = entry.Find("fullUrl")) {
        static const std::regex kUuidUrn(
            R"(urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})");
        if (!std::regex_match(full_url->text, kUuidUrn)) checker.Problem(path + ".fullUrl", "not a urn:uuid");
        // bdl-7: fullUrl unique.
        if (!full_urls.insert(full_url->text).second) checker.Problem(path + ".fullUrl", "bdl-7: not unique");
      }
      // bdl-3: every entry of a batch has a request; bdl-4: responses only in responses.
      const JsonValue* request = entry.Find("request");
      if (batch && request == nullptr) checker.Problem(path + ".request", "bdl-3: required in a batch");
      if (entry.Find("response") != nullptr) checker.Problem(path + ".response", "bdl-4: only in responses");
      if (request != nullptr) {
        checker.OnlyKnown(
            *request, path + ".request",
            {"id", "extension", "method", "url", "ifNoneMatch", "ifModifiedSince", "ifMatch", "ifNoneExist"});
        const JsonValue* method = checker.Required(*request, path + ".request", "method", Type::kString);
        static const std::set<std::string> kMethods = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
        if (method != nullptr && kMethods.count(method->text) == 0)
          checker.Problem(path + ".request.method", "not an HTTPVerb");
        checker.Required(*request, path + ".request", "url", Type::kString);
      }
      if (const JsonValue* resource = entry.Find("resource"))
        checker.Observation(*resource, path + ".resource");
    }
  }
  return checker.problems;
}

}  // namespace ehg::test
