// The designer: bpmn-js modeler with the Camunda properties panel (lanes, forms, status, timers), in the
// page's language, bpmnlint's recommended rules live, undo/redo, the user tasks' forms edited beside it,
// drafts kept in the browser, server-side validation shown on the offending elements, deploy and download.
import BpmnModeler from "bpmn-js/lib/Modeler";
import lintModule from "bpmn-js-bpmnlint";
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule,
} from "bpmn-js-properties-panel";
import lintRules from "bpmnlint-config";
import camundaModdle from "camunda-bpmn-moddle/resources/camunda.json";
import { Drafts } from "./designer/draft.js";
import { fitClearOfPalette } from "./designer/fit.js";
import { FormPanel } from "./designer/forms.js";
import { wireUndoRedo } from "./designer/history.js";
import { translateModule } from "./designer/translate.js";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

function setup(root) {
  const status = root.querySelector("[data-status]");
  const lang = document.documentElement.lang;
  const modeler = new BpmnModeler({
    container: root.querySelector("[data-canvas]"),
    propertiesPanel: { parent: root.querySelector("[data-properties]") },
    linting: { bpmnlint: lintRules, active: true },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      lintModule,
      translateModule(lang),
    ],
    moddleExtensions: { camunda: camundaModdle },
  });
  window.rectiflowModeler = modeler; // for the browser tests and the curious
  const canvas = modeler.get("canvas");
  const overlays = modeler.get("overlays");
  const registry = modeler.get("elementRegistry");
  const panel = root.querySelector("[data-form-panel]");
  const forms = new FormPanel(panel, modeler, {
    lang,
    deployed: JSON.parse(panel.dataset.forms),
    previewUrl: panel.dataset.previewUrl,
    csrf,
    onEdit: () => drafts.keep(),
  });
  const drafts = new Drafts(modeler, {
    user: root.dataset.user,
    process: root.dataset.process,
    shownAt: root.dataset.deployedAt,
    forms: () => forms.edited,
  });
  wireUndoRedo(modeler, root.querySelector("[data-undo]"), root.querySelector("[data-redo]"));
  let marked = [];

  const say = (text, kind) => {
    status.textContent = text;
    status.dataset.kind = kind;
  };

  const clearProblems = () => {
    marked.forEach((id) => registry.get(id) && canvas.removeMarker(id, "rf-invalid"));
    overlays.remove({ type: "rf-problem" });
    marked = [];
  };

  const showProblems = (problems) => {
    problems.forEach(({ element, message }) => {
      if (!element || !registry.get(element)) return;
      canvas.addMarker(element, "rf-invalid");
      const note = document.createElement("div");
      note.className = "rf-problem";
      note.textContent = message;
      overlays.add(element, "rf-problem", { position: { bottom: -4, left: 0 }, html: note });
      marked.push(element);
    });
  };

  const send = async (url) => {
    const { xml } = await modeler.saveXML({ format: true });
    const body = new FormData();
    body.append("file", new Blob([xml], { type: "application/xml" }), "diagram.bpmn");
    forms.toSend().forEach(([key, schema]) => {
      body.append("form", new Blob([JSON.stringify(schema, null, 2)], { type: "application/json" }), key);
    });
    const response = await fetch(url, {
      method: "POST",
      body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrf() },
    });
    return { response, result: await response.json() };
  };

  const act = async (url, okText) => {
    clearProblems();
    forms.showProblems([]);
    const { response, result } = await send(url);
    if (response.ok && result.valid !== false) {
      say(result.message || okText, "ok");
      forms.showProblems(result.warnings || []);
      if (result.location) {
        drafts.forget(); // deployed: nothing is left unsaved
        window.location.assign(result.location);
      }
    } else {
      say(result.detail, "error");
      showProblems(result.errors || []);
      forms.showProblems(result.errors || []);
    }
  };

  root.querySelector("[data-validate]").addEventListener("click", () =>
    act(root.dataset.validateUrl, root.dataset.validText),
  );
  root.querySelector("[data-deploy]").addEventListener("click", () =>
    act(root.dataset.deployUrl, root.dataset.deployedText),
  );
  root.querySelector("[data-download]").addEventListener("click", async () => {
    const { xml } = await modeler.saveXML({ format: true });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([xml], { type: "application/xml" }));
    link.download = root.dataset.filename || "diagram.bpmn";
    link.click();
    URL.revokeObjectURL(link.href);
  });

  const show = async (xml) => {
    await modeler.importXML(xml);
    fitClearOfPalette(canvas);
  };

  const offerDraft = (shownXml) => {
    const draft = drafts.newer();
    if (!draft) return;
    const banner = root.querySelector("[data-draft]");
    const restore = banner.querySelector("[data-draft-restore]");
    const time = banner.querySelector("[data-draft-time]");
    time.dateTime = new Date(draft.savedAt).toISOString();
    time.textContent = new Date(draft.savedAt).toLocaleString(lang);
    banner.hidden = false;
    restore.addEventListener("click", async () => {
      await show(draft.xml);
      forms.restore(draft.forms);
      drafts.dirty = true;
      restore.hidden = true; // the banner stays: the restored draft can still be discarded
    });
    banner.querySelector("[data-draft-discard]").addEventListener("click", async () => {
      drafts.forget();
      banner.hidden = true;
      if (restore.hidden) {
        await show(shownXml);
        forms.restore({});
      }
    });
  };

  fetch(root.dataset.xmlUrl, { credentials: "same-origin" })
    .then((response) => response.text())
    .then(async (xml) => {
      await show(xml);
      offerDraft(xml);
      root.dataset.ready = "true";
    })
    .catch((error) => say(String(error), "error"));
}

document.querySelectorAll("[data-bpmn-modeler]").forEach(setup);
