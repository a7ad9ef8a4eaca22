#pragma once

#include <string_view>

// Throw-away keys made with the `jose` tool (latchset) for the JOSE fuzz targets and their seed corpora,
// which were sealed and signed by that tool too (tests/fuzz/corpus/jose_*). Never used anywhere else.
namespace ehg::fuzz {

inline constexpr std::string_view kCareEncryptionKey =
    R"({"crv":"P-256","d":"Tq8kAC547mHZYD_VC-aicoo3GPu8FK1XGQznLZ1B-Yw","kid":"fuzz-care","kty":"EC",)"
    R"("x":"-Saw121PjlfguN1E_DBglb61-vhsZeGPEn8AHi1hzkY","y":"zCAvGY7jQr54ep5vcgAWgBFyCQeqxa95oz2085f895c"})";
inline constexpr std::string_view kGatewayKey =
    R"({"alg":"ES256","crv":"P-256","d":"JmSbgFCbiK71-leHZ90PswFIvHH-mscMkDfSlQuSBDg","kid":"fuzz-gateway",)"
    R"("kty":"EC","x":"IwymBCY2Z7zD4yHYJENDcrMTlPTNJUITFTH1mvQuBL4","y":"lR5bZa8NDBHYI8USThP8E1qbiC4O41w_-pAHitEcCcw"})";
inline constexpr std::string_view kCommandKey =
    R"({"alg":"ES256","crv":"P-256","d":"4Np5J2svriKVZSOYSwoxGefCjyQTBJIIHdWa0lIHdoY","kid":"fuzz-command",)"
    R"("kty":"EC","x":"MAUDr93ir3nzAp_euZz1DY18hKkAVtDPEi1tVm6HHoo","y":"OsLL6coflyUwZurbbGvU0wxI4YAlKnRgP0_kMvuUqu4"})";
// The corpus commands are for this gateway of this municipality (aud "0301/gw-fuzz"), issued at this
// time (exp 300 s later).
inline constexpr std::string_view kTenant = "0301";
inline constexpr std::string_view kGatewayId = "gw-fuzz";
inline constexpr long long kNowMilliseconds = 1'795'000'000'000;

}  // namespace ehg::fuzz
