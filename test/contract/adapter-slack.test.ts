import { adapterContract } from "./adapter.contract.ts";
import { makeSlackHarness } from "../stand-ins/slack/harness.ts";

adapterContract("slack", makeSlackHarness);
