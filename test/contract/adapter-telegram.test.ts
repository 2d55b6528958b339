import { adapterContract } from "./adapter.contract.ts";
import { makeTelegramHarness } from "../stand-ins/telegram/harness.ts";

adapterContract("telegram", makeTelegramHarness);
