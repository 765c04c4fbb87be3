// 撤销/重做 buttons beside the canvas's own Ctrl+Z / Ctrl+Y, enabled only when there is something to undo or redo.
export function wireUndoRedo(modeler, undoButton, redoButton) {
  const commandStack = modeler.get("commandStack");
  const canvas = modeler.get("canvas");
  const refresh = () => {
    undoButton.disabled = !commandStack.canUndo();
    redoButton.disabled = !commandStack.canRedo();
  };
  const press = (action) => () => {
    action();
    canvas.focus(); // so the keyboard shortcuts keep working after a click on a button
  };
  undoButton.addEventListener("click", press(() => commandStack.undo()));
  redoButton.addEventListener("click", press(() => commandStack.redo()));
  modeler.on("commandStack.changed", refresh);
  refresh();
}
