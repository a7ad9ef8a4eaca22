// ehealth-care-tools: the care system's side of the gateway's contract, for integrators and tests: the
// reference receiver, which also signs receipts and commands (care/command_signing.hpp). The region's
// hub is care/hub (ehealth-hub).
#include <string>

#include "care/receive_command.hpp"
#include "gateway/command_line/command_line.hpp"

namespace cli = ehg::command_line;

int main(int argc, char** argv) {
  cli::Program app{"ehealth-care-tools: the care system's side of the ehealth-gateway contract",
                   std::string("ehealth-care-tools ") + EHG_VERSION};
  app.RequireSubcommand();

  ehg::care::ReceiveRequest receive_request;
  cli::Command receive = app.Subcommand(
      "receive",
      "Reference receiver: decrypt, verify and print the gateways' events, send receipts and commands");
  receive.Add("--broker", receive_request.broker, "ssl://host:port").Required();
  receive.Add("--cafile", receive_request.ca_file, "CA of the broker's certificate").Required();
  receive.Add("--cert", receive_request.cert_file, "This receiver's client certificate").Required();
  receive.Add("--key", receive_request.key_file, "Its private key").Required();
  receive.Add("--client-id", receive_request.client_id, "Stable MQTT client id of this receiver").Required();
  receive.Add("--group", receive_request.group,
              "Shared subscription group: receivers in one group split the messages");
  receive.Add("--tenant", receive_request.tenant, "One municipality number, or + for all");
  receive.Add("--decryption-key", receive_request.decryption_keys,
              "The care system's private encryption key (JWK, JWK Set or PEM)");
  receive.Add("--gateway-keys", receive_request.gateway_keys,
              "Public keys of the enrolled gateways (JWK Set)");
  receive.Add("--signing-key", receive_request.signing_key,
              "The care system's private command key: signs receipts and commands");
  receive.Add("--command-lifetime", receive_request.command_lifetime_seconds, "Seconds a command stays valid")
      .Range(10, 7 * 24 * 3600);
  receive.Flag(
      "--no-receipts", receive_request.no_receipts,
      "Confirm nothing (a watcher beside the real care system must not confirm what it never stored)");
  receive.Flag("--insecure-plaintext-payloads", receive_request.insecure_plaintext_payloads,
               "Take plain JSON from gateways in development mode");

  if (const auto exit_code = app.Parse(argc, argv)) return *exit_code;
  if (receive) return ehg::care::Receive(receive_request);
  return 1;
}
