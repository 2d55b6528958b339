import { adapterContract } from "./adapter.contract.ts";
import { makeWebChatHarness } from "../stand-ins/web/harness.ts";

adapterContract("web", makeWebChatHarness);
