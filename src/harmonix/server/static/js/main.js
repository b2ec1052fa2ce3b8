// The page's entry point: finds its parts in the document and wires them together. Nothing here is global; every
// part gets what it needs when it is made.

import { Api } from "./api.js";
import { BreathView } from "./breath.js";
import { ColonyPicker } from "./colonies.js";
import { FieldsView } from "./fields.js";
import { HistoryView } from "./history.js";
import { ApiKey } from "./keys.js";
import { Talk } from "./talk.js";
import { Timeline } from "./timeline.js";

function part(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

function start() {
  const status = part("breath-status");
  const announce = (text) => {
    status.textContent = text;
  };
  const api = new Api(new ApiKey(window.sessionStorage, part("key-dialog")));
  const breath = new BreathView({ panels: part("panels"), legend: part("legend"), meta: part("meta"),
    timeline: new Timeline(part("timeline")) }, announce);
  const fields = new FieldsView(part("fields"), api);
  const history = new HistoryView({ list: part("history"), more: part("history-more"), status: part("history-status") },
    api, () => fields.show(colony));
  let colony = null;
  let picker = null;
  const talk = new Talk({ form: part("prompt-form"), prompt: part("prompt"), send: part("send"), stop: part("stop"),
    error: part("prompt-error") }, api, breath, announce, window.sessionStorage, {
      onBusy: (busy) => picker?.setEnabled(!busy),
      onBreathed: () => {
        fields.show(colony);
        history.addNewest();
      },
    });
  picker = new ColonyPicker({ select: part("colony-select"), form: part("colony-form"), name: part("colony-name"),
    create: part("colony-create"), message: part("colony-message") }, api, (chosen) => {
    colony = chosen;
    breath.clear();
    talk.setColony(chosen);
    fields.show(chosen);
    history.show(chosen);
  });
  picker.load();
}

start();
