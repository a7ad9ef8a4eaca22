// Checks a JSON document against a JSON Schema (draft-07) with Ajv in strict mode, so a schema with a
// mistake fails too. Usage: node validate-json-schema.mjs SCHEMA DOCUMENT. Exit 0 valid, 1 invalid.
import { readFileSync } from "node:fs";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const [schemaPath, documentPath] = process.argv.slice(2);
const ajv = new Ajv({ strict: true, allErrors: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
const document = JSON.parse(readFileSync(documentPath, "utf8"));
if (validate(document)) {
  console.log("valid");
} else {
  for (const error of validate.errors) console.log(`${error.instancePath || "/"} ${error.message} ${JSON.stringify(error.params)}`);
  process.exit(1);
}
