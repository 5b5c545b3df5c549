// `diagnose`: runbook section 4.2 (task crash loop, scale-out failure) as OK / PROBLEM / SKIP with
// the evidence and the runbook's fix. Read-only, like `validate`.
import { ExitCode } from '../core/errors.js';
import { callSummary, createContext } from '../core/runner.js';
import { diagnose, SCENARIO_SECTIONS, type Diagnosis } from '../diagnose.js';
import { printJson, type Session } from './shared.js';

export function renderDiagnoses(diagnoses: Diagnosis[]): string[] {
  return diagnoses.flatMap((d) => {
    const { section, title } = SCENARIO_SECTIONS[d.scenario];
    const lines = [`  ${d.status.padEnd(7)} ${section} ${title.padEnd(18)} ${d.resource}`, ...d.evidence.map((e) => `            - ${e}`)];
    // The fix only where there is something to fix: on OK/SKIP it would read as an instruction.
    if (d.status === 'PROBLEM') lines.push(`            fix: ${d.fix}`);
    return lines;
  });
}

export async function diagnoseCommand(session: Session): Promise<number> {
  const diagnoses = await diagnose(createContext(session.runner));
  const problems = diagnoses.filter((d) => d.status === 'PROBLEM');
  const calls = callSummary(session.clients);
  if (session.options.json) printJson({ command: 'diagnose', ok: problems.length === 0, diagnoses, calls });
  const out = session.human;
  out.write(`${renderDiagnoses(diagnoses).join('\n')}\n`);
  out.write(
    `\n${problems.length ? `${problems.length} problem(s): ${problems.map((p) => p.resource).join('; ')}` : 'No problem found'}. ` +
      `AWS calls: ${calls.reads} read, ${calls.writes} write\n`,
  );
  return problems.length ? ExitCode.failed : ExitCode.ok;
}
