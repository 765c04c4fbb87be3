// dmn-js's decision table editor alone, with Python as the language of every cell: the engine evaluates
// a table's expressions as Python in its sandbox (engine/bpmn/dmn.py). Left out: the DRD, literal
// expression and boxed expression views (the engine runs decision tables only) and the "simple mode"
// editors, which write FEEL (`true`, `date("…")`, `[1..5]`) that Python would not read.
import EditingManager from "dmn-js-shared/lib/base/EditingManager";
import { is } from "dmn-js-shared/lib/util/ModelUtil";
import DecisionTableEditor from "dmn-js-decision-table/lib/Editor";
import simpleBooleanEdit from "dmn-js-decision-table/lib/features/simple-boolean-edit";
import simpleDateEdit from "dmn-js-decision-table/lib/features/simple-date-edit";
import simpleDateTimeEdit from "dmn-js-decision-table/lib/features/simple-date-time-edit";
import simpleDurationEdit from "dmn-js-decision-table/lib/features/simple-duration-edit";
import simpleMode from "dmn-js-decision-table/lib/features/simple-mode";
import simpleNumberEdit from "dmn-js-decision-table/lib/features/simple-number-edit";
import simpleStringEdit from "dmn-js-decision-table/lib/features/simple-string-edit";
import simpleTimeEdit from "dmn-js-decision-table/lib/features/simple-time-edit";

const FEEL_ONLY = new Set([
  simpleMode,
  simpleBooleanEdit,
  simpleDateEdit,
  simpleDateTimeEdit,
  simpleDurationEdit,
  simpleNumberEdit,
  simpleStringEdit,
  simpleTimeEdit,
]);

class PythonTableEditor extends DecisionTableEditor {
  getModules() {
    return super.getModules().filter((module) => !FEEL_ONLY.has(module));
  }
}

/** A dmn-js editor that opens the decision tables of a DMN file, one at a time. */
export class DecisionTableModeler extends EditingManager {
  _getViewProviders() {
    return [
      {
        id: "decisionTable",
        constructor: PythonTableEditor,
        opens: (element) => is(element, "dmn:Decision") && is(element.decisionLogic, "dmn:DecisionTable"),
      },
    ];
  }
}

const PYTHON = { value: "python", label: "Python" };

/** The editor's options: Python cells, the data types the engine's trial panel knows, `modules` added. */
export function tableOptions(container, modules) {
  return {
    container,
    common: {
      expressionLanguages: { options: [PYTHON], defaults: { editor: PYTHON.value } },
      dataTypes: ["string", "boolean", "integer", "long", "double", "number", "Any"],
    },
    // dmn-js hands each view its own additionalModules only (the common ones are dropped).
    decisionTable: { additionalModules: modules },
  };
}
