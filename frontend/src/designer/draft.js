// Unsaved changes survive leaving the page by mistake: a confirmation while there are any, and a
// draft per person and process in localStorage (the diagram and the forms edited beside it), offered
// back when the page opens again.
export class Drafts {
  constructor(modeler, { user, process, shownAt, forms }) {
    this.modeler = modeler;
    this.forms = forms;
    this.key = `rectiflow.draft.${user}.${process}`;
    this.shownAt = Date.parse(shownAt);
    this.dirty = false;
    modeler.on("commandStack.changed", ({ trigger }) => {
      if (trigger !== "clear") this.keep(); // "clear" is an import, not an edit
    });
    window.addEventListener("beforeunload", (event) => {
      if (!this.dirty) return;
      event.preventDefault();
      event.returnValue = ""; // Chromium still asks for it
    });
  }

  /** The stored draft if it was saved after the shown version was deployed, else null. */
  newer() {
    const draft = JSON.parse(localStorage.getItem(this.key) || "null");
    return draft && draft.savedAt > this.shownAt ? draft : null;
  }

  async keep() {
    this.dirty = true;
    const { xml } = await this.modeler.saveXML({ format: true });
    localStorage.setItem(this.key, JSON.stringify({ xml, forms: this.forms(), savedAt: Date.now() }));
  }

  /** After a deploy, or when the person discards the draft. */
  forget() {
    localStorage.removeItem(this.key);
    this.dirty = false;
  }
}
