// The documented config, checked for every scalar of the whole schema (the `typescript`
// plugin types all of it, as a config over a live introspection would): with every
// mapping it generates, and without any one of them that target fails.
import type { CodegenConfig } from "@graphql-codegen/cli";
import config from "./codegen";

type Target = { plugins: string[]; config: { scalars: Record<string, string> } };
const [target] = Object.values(config.generates) as unknown as Target[];
const scalars = target.config.scalars;
const only = (mapping: Record<string, string>) => ({
  plugins: ["typescript"],
  config: { ...target.config, scalars: mapping },
});

const strict: CodegenConfig = {
  ...config,
  documents: [],
  generates: {
    "strict/all.ts": only(scalars),
    ...Object.fromEntries(
      Object.keys(scalars).map((name) => {
        const { [name]: _, ...rest } = scalars;
        return [`strict/without-${name}.ts`, only(rest)];
      }),
    ),
  },
};

export default strict;
