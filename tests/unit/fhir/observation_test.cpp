#include "gateway/fhir/observation.hpp"

#include <doctest/doctest.h>

#include "gateway/core/json.hpp"
#include "tests/unit/fhir/fhir_r4_checker.hpp"

using ehg::core::JsonValue;
using ehg::fhir::ObservationBundle;

namespace {

int next_id = 0;

std::string Body(std::string_view metric, double value, std::string_view unit,
                 std::string_view effective = "2026-11-26T15:11:15.642Z",
                 std::string_view device = "oximeter", std::string_view flags = "", bool uncertain = false) {
  char id[40];
  std::snprintf(id, sizeof id, "01a21869-2cc0-7002-a82f-%012d", ++next_id);
  return std::string(R"({"schema":"ehealth-gateway/observation/v0","event_id":")") + id +
         R"(","gateway":"gw-1","subject":"r-0001","device":")" + std::string(device) + R"(","metric":")" +
         std::string(metric) + R"(","value":)" + ehg::core::JsonNumber(value) + R"(,"unit":")" +
         std::string(unit) + R"(","effective":")" + std::string(effective) +
         R"(","received":"2026-11-26T15:11:16.000Z","time_uncertain":)" + (uncertain ? "true" : "false") +
         R"(,"flags":[)" + std::string(flags) + "]}";
}

struct Bundle {
  std::string json;
  JsonValue root;
  explicit Bundle(const std::vector<std::string>& bodies) {
    std::vector<const std::string*> pointers;
    for (const auto& body : bodies)
      pointers.push_back(&body);
    json = ObservationBundle(pointers).json;
    root = ehg::core::ParseJson(json).value();
  }
  const JsonValue& Entry(std::size_t i) const { return root.Find("entry")->items.at(i); }
  const JsonValue& Resource(std::size_t i) const { return *Entry(i).Find("resource"); }
  std::size_t size() const { return root.Find("entry") ? root.Find("entry")->items.size() : 0; }
};

std::vector<std::string> Codes(const JsonValue& concept_json) {
  std::vector<std::string> codes;
  for (const JsonValue& coding : concept_json.Find("coding")->items) {
    codes.push_back(coding.Find("system")->text + "|" + coding.Find("code")->text);
  }
  return codes;
}

std::string Profile(const JsonValue& resource) {
  const JsonValue* meta = resource.Find("meta");
  return meta ? meta->Find("profile")->items.at(0).text : "";
}

}  // namespace

TEST_CASE("An SpO2 reading becomes an R4 oxygensat Observation with LOINC, MDC and UCUM") {
  Bundle bundle({Body("spo2", 96, "%")});
  CHECK(ehg::test::CheckBundle(bundle.json).empty());
  const JsonValue& resource = bundle.Resource(0);
  CHECK(Profile(resource) == "http://hl7.org/fhir/StructureDefinition/oxygensat");
  CHECK(Codes(*resource.Find("code")) == std::vector<std::string>{"http://loinc.org|2708-6",
                                                                  "http://loinc.org|59408-5",
                                                                  "urn:iso:std:iso:11073:10101|150456"});
  const JsonValue& quantity = *resource.Find("valueQuantity");
  CHECK(quantity.Find("value")->number == 96);
  CHECK(quantity.Find("code")->text == "%");
  CHECK(quantity.Find("system")->text == "http://unitsofmeasure.org");
  CHECK(resource.Find("status")->text == "final");
  CHECK(resource.Find("effectiveDateTime")->text == "2026-11-26T15:11:15.642Z");
  CHECK(resource.Find("issued")->text == "2026-11-26T15:11:16.000Z");
  CHECK(resource.Find("subject")->Find("identifier")->Find("value")->text == "r-0001");
  CHECK(resource.Find("subject")->Find("type")->text == "Patient");
  CHECK(resource.Find("device")->Find("identifier")->Find("value")->text == "oximeter");
  CHECK(resource.Find("identifier")->items.at(0).Find("value")->text ==
        "gw-1/oximeter/r-0001/spo2/1795705875642");
  CHECK(resource.Find("note") == nullptr);
  const JsonValue& request = *bundle.Entry(0).Find("request");
  CHECK(request.Find("method")->text == "POST");
  CHECK(request.Find("url")->text == "Observation");
  CHECK(request.Find("ifNoneExist")->text ==
        "identifier=urn:ehealth-gateway:observation|gw-1/oximeter/r-0001/spo2/1795705875642");
  CHECK(bundle.Entry(0).Find("fullUrl")->text.starts_with("urn:uuid:01a21869-2cc0-7002-a82f-"));
}

TEST_CASE("The parts of one blood pressure measurement become one bp Observation with components") {
  Bundle bundle({Body("bp.systolic", 128, "mm[Hg]", "2026-11-26T07:30:00.000Z", "cuff"),
                 Body("bp.diastolic", 82, "mm[Hg]", "2026-11-26T07:30:00.000Z", "cuff"),
                 Body("bp.mean", 97, "mm[Hg]", "2026-11-26T07:30:00.000Z", "cuff"),
                 Body("pulse_rate", 64, "/min", "2026-11-26T07:30:00.000Z", "cuff"),
                 // A second measurement of the same cuff, a minute later: its own Observation.
                 Body("bp.systolic", 131, "mm[Hg]", "2026-11-26T07:31:00.000Z", "cuff"),
                 Body("bp.diastolic", 84, "mm[Hg]", "2026-11-26T07:31:00.000Z", "cuff")});
  CAPTURE(bundle.json);
  const auto problems = ehg::test::CheckBundle(bundle.json);
  CHECK(problems.empty());
  for (const auto& problem : problems)
    MESSAGE(problem);
  REQUIRE(bundle.size() == 3);
  const JsonValue& bp = bundle.Resource(0);
  CHECK(Profile(bp) == "http://hl7.org/fhir/StructureDefinition/bp");
  CHECK(Codes(*bp.Find("code")) == std::vector<std::string>{"http://loinc.org|85354-9"});
  CHECK(bp.Find("valueQuantity") == nullptr);
  const auto& components = bp.Find("component")->items;
  REQUIRE(components.size() == 3);
  CHECK(Codes(*components[0].Find("code")).front() == "http://loinc.org|8480-6");
  CHECK(components[0].Find("valueQuantity")->Find("value")->number == 128);
  CHECK(Codes(*components[1].Find("code")).front() == "http://loinc.org|8462-4");
  CHECK(Codes(*components[2].Find("code")).front() == "http://loinc.org|8478-0");
  // Every part keeps its own identifier, so an alert on the systolic value finds this Observation.
  const auto& identifiers = bp.Find("identifier")->items;
  REQUIRE(identifiers.size() == 5);
  CHECK(identifiers[0].Find("value")->text == "gw-1/cuff/r-0001/bp.systolic/1795678200000");
  CHECK(identifiers[1].Find("value")->text == "gw-1/cuff/r-0001/bp.diastolic/1795678200000");
  // Each part is an event of its own in the outbox: the fullUrl names the first, an identifier each
  // other, so a receiver's receipt can confirm all three.
  const std::string first_id = bundle.Entry(0).Find("fullUrl")->text.substr(9);
  CHECK(identifiers[3].Find("system")->text == ehg::fhir::kEventIdSystem);
  CHECK(identifiers[4].Find("system")->text == ehg::fhir::kEventIdSystem);
  const std::string second_id = identifiers[3].Find("value")->text.substr(9);
  const std::string third_id = identifiers[4].Find("value")->text.substr(9);
  CHECK(first_id.substr(0, 24) == "01a21869-2cc0-7002-a82f-");
  CHECK(std::stoll(second_id.substr(24)) == std::stoll(first_id.substr(24)) + 1);
  CHECK(std::stoll(third_id.substr(24)) == std::stoll(first_id.substr(24)) + 2);
  // The pulse rate is alone: no further ids.
  CHECK(bundle.Resource(1).Find("identifier")->items.size() == 1);
  CHECK(Profile(bundle.Resource(1)) == "http://hl7.org/fhir/StructureDefinition/heartrate");
  CHECK(bundle.Resource(2).Find("component")->items.size() == 2);
}

TEST_CASE("A mean pressure alone, or half a pressure, is never passed off as a complete bp panel") {
  Bundle mean_only({Body("bp.mean", 97, "mm[Hg]", "2026-11-26T07:30:00.000Z", "cuff")});
  CHECK(ehg::test::CheckBundle(mean_only.json).empty());
  CHECK(Codes(*mean_only.Resource(0).Find("code")).front() == "http://loinc.org|8478-0");
  CHECK(Profile(mean_only.Resource(0)).empty());
  Bundle systolic_only({Body("bp.systolic", 128, "mm[Hg]", "2026-11-26T07:30:00.000Z", "cuff"),
                        Body("bp.mean", 97, "mm[Hg]", "2026-11-26T07:30:00.000Z", "cuff")});
  CHECK(ehg::test::CheckBundle(systolic_only.json).empty());
  CHECK(Profile(systolic_only.Resource(0)) == "http://hl7.org/fhir/StructureDefinition/vitalsigns");
}

TEST_CASE("Every catalogue metric gives an Observation that meets R4 and its vital-signs profile") {
  const std::vector<std::string> bodies = {Body("heart_rate", 72, "/min"),
                                           Body("pulse_rate", 70, "/min"),
                                           Body("respiration_rate", 18, "/min"),
                                           Body("body_temperature", 37.2, "Cel"),
                                           Body("body_weight", 81.4, "kg"),
                                           Body("body_height", 1.78, "m"),
                                           Body("bmi", 25.7, "kg/m2"),
                                           Body("glucose", 6.1, "mmol/L"),
                                           Body("perfusion_index", 2.5, "%"),
                                           Body("rr_interval", 812, "ms"),
                                           Body("consciousness", 2, "1"),
                                           Body("supplemental_oxygen", 1, "1"),
                                           Body("battery", 80, "%"),
                                           Body("motion", 1, "1"),
                                           Body("ambient_temperature", 21.5, "Cel"),
                                           Body("pleth", 512, "1")};
  Bundle bundle(bodies);
  const auto problems = ehg::test::CheckBundle(bundle.json);
  for (const auto& problem : problems)
    MESSAGE(problem);
  CHECK(problems.empty());
  REQUIRE(bundle.size() == bodies.size());
  // The R4 bodyheight profile allows cm and [in_i]: metres are converted.
  const JsonValue& height = *bundle.Resource(5).Find("valueQuantity");
  CHECK(height.Find("value")->number == 178);
  CHECK(height.Find("code")->text == "cm");
  CHECK(bundle.Resource(7).Find("category")->items[0].Find("coding")->items[0].Find("code")->text ==
        "laboratory");
  CHECK(Codes(*bundle.Resource(9).Find("code")) ==
        std::vector<std::string>{"urn:ehealth-gateway:metric|rr_interval"});
  CHECK(bundle.Resource(10).Find("valueCodeableConcept")->Find("coding")->items[0].Find("code")->text == "V");
  CHECK(bundle.Resource(11).Find("valueBoolean")->boolean);
  CHECK(bundle.Resource(13).Find("valueInteger")->number == 1);
}

TEST_CASE("Quality flags and an uncertain time are written as notes") {
  Bundle bundle({Body("spo2", 88, "%", "2026-11-26T15:11:15.642Z", "oximeter",
                      R"("motion_artefact","low_perfusion")", true)});
  CHECK(ehg::test::CheckBundle(bundle.json).empty());
  const auto& notes = bundle.Resource(0).Find("note")->items;
  REQUIRE(notes.size() == 2);
  CHECK(notes[0].Find("text")->text == "device quality flags: motion_artefact, low_perfusion");
  CHECK(notes[1].Find("text")->text.starts_with("time uncertain"));
}

TEST_CASE("A body that is not an observation event is left out and counted, never sent half-made") {
  const std::string good = Body("spo2", 96, "%");
  const std::string alert = R"({"schema":"ehealth-gateway/alert/v0","event_id":"x"})";
  const std::string broken = "{not json";
  const std::string unknown_metric = Body("blood_alcohol", 0.1, "%");
  auto result = ObservationBundle({&good, &alert, &broken, &unknown_metric});
  CHECK(result.observations == 1);
  CHECK(result.unreadable == 3);
  CHECK(ehg::test::CheckBundle(result.json).empty());
  auto empty = ObservationBundle({&broken});
  CHECK(empty.json == R"({"resourceType":"Bundle","type":"batch"})");
}

TEST_CASE("The checker itself refuses what R4 forbids") {
  // Each of these is wrong in one way; the checker must say so (it is the oracle of the tests above).
  CHECK_FALSE(ehg::test::CheckObservation(R"({"resourceType":"Observation","code":{"text":"x"}})").empty());
  CHECK_FALSE(
      ehg::test::CheckObservation(R"({"resourceType":"Observation","status":"done","code":{"text":"x"}})")
          .empty());
  CHECK_FALSE(ehg::test::CheckObservation(
                  R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"flags":[]})")
                  .empty());
  CHECK_FALSE(
      ehg::test::CheckObservation(
          R"({"resourceType":"Observation","status":"final","code":{"text":"x"},"effectiveDateTime":"2026-11-26T15:11:15"})")
          .empty());
  CHECK_FALSE(
      ehg::test::CheckObservation(
          R"({"resourceType":"Observation","meta":{"profile":["http://hl7.org/fhir/StructureDefinition/bodyheight"]},)"
          R"("status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],)"
          R"("code":{"coding":[{"system":"http://loinc.org","code":"8302-2"}]},"subject":{"display":"r"},)"
          R"("effectiveDateTime":"2026-11-26T15:11:15Z","valueQuantity":{"value":1.78,"unit":"m","system":"http://unitsofmeasure.org","code":"m"}})")
          .empty());
  CHECK_FALSE(
      ehg::test::CheckBundle(
          R"({"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}}}]})")
          .empty());
  CHECK(
      ehg::test::CheckBundle(
          R"({"resourceType":"Bundle","type":"batch","entry":[{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"}},"request":{"method":"POST","url":"Observation"}}]})")
          .empty());
}

TEST_CASE("A reading whose device clock was implausible says so, with the time the device claimed") {
  std::string body = Body("spo2", 91, "%", "2026-11-26T15:11:16.000Z");
  body.insert(body.size() - 1, R"(,"device_time":"2027-11-26T15:11:15.642Z","device_clock_suspect":true)");
  Bundle bundle({body});
  CHECK(ehg::test::CheckBundle(bundle.json).empty());
  CHECK(bundle.Resource(0).Find("effectiveDateTime")->text == "2026-11-26T15:11:16.000Z");
  const auto& notes = bundle.Resource(0).Find("note")->items;
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].Find("text")->text ==
        "device clock implausible: the device stamped 2027-11-26T15:11:15.642Z; the time given is when the "
        "gateway received the measurement");
  // Suspect without the claimed time is not a body this gateway writes: left out, counted.
  std::string broken = Body("spo2", 91, "%");
  broken.insert(broken.size() - 1, R"(,"device_clock_suspect":true)");
  CHECK(ObservationBundle({&broken}).unreadable == 1);
}
