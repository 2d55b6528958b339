/**
 * The adapter contract suite lives in `adapters/testing/adapter-contract.ts`, published as `switchboard/testing`
 * so an adapter outside this repository runs the same suite; the repository's tests import it from here.
 */
export * from "../../adapters/testing/adapter-contract.ts";
