#include "gateway/uplink/counters.hpp"

namespace ehg::uplink {

UplinkCounters::UplinkCounters(core::telemetry::Registry& registry)
    : connects(registry.AddCounter(
          {"ehg_uplink_connects_total", "MQTT connections made since start (reconnects included).", {}})),
      connect_failures(registry.AddCounter(
          {"ehg_uplink_connect_failures_total", "Failed connection attempts since start.", {}})),
      connections_lost(
          registry.AddCounter({"ehg_uplink_connections_lost_total", "Connections lost since start.", {}})),
      messages_published(registry.AddCounter(
          {"ehg_messages_published_total", "MQTT messages handed to the client since start.", {}})),
      messages_acknowledged(registry.AddCounter(
          {"ehg_messages_acknowledged_total", "MQTT messages the broker acknowledged since start.", {}})),
      events_acknowledged(
          registry.AddCounter({"ehg_uplink_events_acknowledged_total",
                               "Outbox events inside messages the broker acknowledged since start.",
                               {}})),
      delivery_failures(registry.AddCounter(
          {"ehg_uplink_delivery_failures_total",
           "Messages the MQTT client could not hand to the broker since start (sent again).",
           {}})),
      alerts_resent(registry.AddCounter(
          {"ehg_alert_resends_total", "Alerts sent again while waiting for the care system's receipt.", {}})),
      events_resent(registry.AddCounter(
          {"ehg_receipt_resends_total",
           "Events (alerts included) sent again while waiting for the care system's receipt.",
           {}})),
      receipts(registry.AddCounter(
          {"ehg_receipts_total", "Receipt commands from the care system since start.", {}})),
      receipted_events(registry.AddCounter({"ehg_receipted_events_total",
                                            "Events waiting for a receipt that the care system confirmed "
                                            "since start.",
                                            {}})),
      receipts_unmatched(registry.AddCounter(
          {"ehg_receipts_unmatched_total",
           "Event ids in receipts that no event was waiting for (a repeated receipt, or an unknown id).",
           {}})),
      commands(registry.AddCounter({"ehg_commands_total", "Authentic commands received since start.", {}})),
      commands_rejected(registry.AddCounter(
          {"ehg_commands_rejected_total",
           "Authentic commands that were not valid since start (a command result says why).",
           {}})),
      commands_refused(registry.AddCounter(
          {"ehg_commands_refused_total", "Commands refused as not authentic or not fresh.", {}})),
      seal_failures(registry.AddCounter({"ehg_uplink_seal_failures_total",
                                         "Messages whose signing and encryption failed since start (their "
                                         "events stay in the outbox, retried).",
                                         {}})),
      commands_dropped(registry.AddCounter(core::telemetry::DroppedFamily(), {"command_queue_full"})),
      messages_oversized(registry.AddCounter(core::telemetry::DroppedFamily(), {"oversized_message"})),
      events_given_up(registry.AddCounter(core::telemetry::DroppedFamily(), {"no_receipt"})),
      status_sign_failures(registry.AddCounter(
          {"ehg_uplink_status_sign_failures_total",
           "Gateway statuses not sent (or last wills not set) since start because signing failed.",
           {}})),
      commit_failures(registry.AddCounter(
          {"ehg_uplink_commit_failures_total",
           "Outbox changes (acknowledgements, receipts) that failed to commit since start (offered again).",
           {}})) {}

}  // namespace ehg::uplink
