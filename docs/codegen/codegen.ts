// GraphQL Code Generator for lifegraph's clients (see docs/clients.md).
// Run from this folder: npx graphql-codegen (tests/test_codegen.py runs it too).
import type { CodegenConfig } from "@graphql-codegen/cli";

const config: CodegenConfig = {
  // Or the live endpoint, where introspection is on: "http://127.0.0.1:8000/graphql".
  schema: "../../schema.graphql",
  documents: ["../../contract/operations/*.graphql"],
  generates: {
    "src/gql/graphql.ts": {
      plugins: ["typescript-operations", "typed-document-node"],
      config: {
        // A scalar without a mapping fails the run instead of becoming `any`.
        strictScalars: true,
        scalars: {
          Date: "string", // "2026-11-21"
          DateTime: "string", // "2026-11-21T09:30:00Z": send an offset; answers are UTC
          Decimal: "string", // "12.30": never a float
          JSON: "unknown", // PresignedUpload.fields, the sync records
          Upload: "File", // a multipart file part (React Native: see the guide)
        },
        enumsAsTypes: true,
        useTypeImports: true,
      },
    },
  },
};

export default config;
