// ehealth-care-tools: the care system's side of the gateway's contract, for integrators and tests: the
// reference receiver, which also signs receipts and commands (care/command_signing.hpp). The region's
// hub is care/hub (ehealth-hub).
#include <CLI/CLI.hpp>
#include <string>

#include "care/receive_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"ehealth-care-tools: the care system's side of the ehealth-gateway contract"};
  app.set_version_flag("--version", std::string("ehealth-care-tools ") + EHG_VERSION);
  app.require_subcommand(1);

  ehg::care::ReceiveRequest receive_request;
  CLI::App* receive = app.add_subcommand(
      "receive",
      "Reference receiver: decrypt, verify and print the gateways' events, send receipts and commands");
  receive->add_option("--broker", receive_request.broker, "ssl://host:port")->required();
  receive->add_option("--cafile", receive_request.ca_file, "CA of the broker's certificate")->required();
  receive->add_option("--cert", receive_request.cert_file, "This receiver's client certificate")->required();
  receive->add_option("--key", receive_request.key_file, "Its private key")->required();
  receive->add_option("--client-id", receive_request.client_id, "Stable MQTT client id of this receiver")
      ->required();
  receive->add_option("--group", receive_request.group,
                      "Shared subscription group: receivers in one group split the messages");
  receive->add_option("--tenant", receive_request.tenant, "One municipality number, or + for all");
  receive->add_option("--decryption-key", receive_request.decryption_keys,
                      "The care system's private encryption key (JWK, JWK Set or PEM)");
  receive->add_option("--gateway-keys", receive_request.gateway_keys,
                      "Public keys of the enrolled gateways (JWK Set)");
  receive->add_option("--signing-key", receive_request.signing_key,
                      "The care system's private command key: signs receipts and commands");
  receive
      ->add_option("--command-lifetime", receive_request.command_lifetime_seconds,
                   "Seconds a command stays valid")
      ->check(CLI::Range(10, 7 * 24 * 3600));
  receive->add_flag(
      "--no-receipts", receive_request.no_receipts,
      "Confirm nothing (a watcher beside the real care system must not confirm what it never stored)");
  receive->add_flag("--insecure-plaintext-payloads", receive_request.insecure_plaintext_payloads,
                    "Take plain JSON from gateways in development mode");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  if (*receive) return ehg::care::Receive(receive_request);
  return 1;
}
