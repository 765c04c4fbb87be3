// The item page's diagram: read-only, with finished steps and the current step highlighted.
import NavigatedViewer from "bpmn-js/lib/NavigatedViewer";

async function show(element) {
  const viewer = new NavigatedViewer({ container: element });
  const response = await fetch(element.dataset.xmlUrl, { credentials: "same-origin" });
  await viewer.importXML(await response.text());
  const canvas = viewer.get("canvas");
  canvas.zoom("fit-viewport");
  const registry = viewer.get("elementRegistry");
  const mark = (ids, marker) =>
    JSON.parse(ids || "[]").forEach((id) => registry.get(id) && canvas.addMarker(id, marker));
  mark(element.dataset.completed, "rf-completed");
  mark(element.dataset.current, "rf-current");
  element.dataset.ready = "true";
}

document.querySelectorAll("[data-bpmn-viewer]").forEach((element) => {
  show(element).catch((error) => {
    element.textContent = element.dataset.failedText || String(error);
  });
});
