// The line renderer (no TTY, CI, --json; DESIGN.md §4): one line per step outcome and no start
// line, so a CI log reads like the report it ends with. listr2's `simple` renderer prints every
// step twice (`❯ title` when it starts, `✔ title` when it ends). Progress a step reports while it
// waits (a deployment, targets, logs) is printed once per distinct message, indented, without the
// step's title.
import { ListrTaskEventType, ListrTaskState, type ListrRenderer, type ListrRendererFactory, type ListrTaskMessage, type ListrTaskObject } from 'listr2';

export interface LineRendererOptions {
  /** Where the lines go (stderr when stdout carries the JSON document). */
  stream?: NodeJS.WritableStream;
}

type AnyTask = ListrTaskObject<unknown, ListrRendererFactory, ListrRendererFactory>;

export class LineRenderer implements ListrRenderer {
  static nonTTY = true;
  static rendererOptions: LineRendererOptions = {};
  static rendererTaskOptions: Record<PropertyKey, never> = {};

  private readonly stream: NodeJS.WritableStream;

  constructor(
    private readonly tasks: AnyTask[],
    options: LineRendererOptions,
  ) {
    this.stream = options?.stream ?? process.stderr;
  }

  render(): void {
    this.watch(this.tasks);
  }

  end(): void {}

  private line(text: string): void {
    this.stream.write(`${text}\n`);
  }

  private watch(tasks: AnyTask[]): void {
    for (const task of tasks) {
      // The title the step started with: the runner rewrites it while the step runs.
      let startTitle = '';
      let lastOutput: string | undefined;
      task.on(ListrTaskEventType.SUBTASK, (subtasks: AnyTask[]) => this.watch(subtasks));
      task.on(ListrTaskEventType.STATE, (state: ListrTaskState) => {
        if (!task.hasTitle()) return;
        if (state === ListrTaskState.STARTED) startTitle = task.title ?? '';
        if (state === ListrTaskState.COMPLETED) this.line(`✔ ${task.title}`);
      });
      task.on(ListrTaskEventType.OUTPUT, (output: string) => {
        const text = String(output).trim();
        if (!text || text === lastOutput) return;
        lastOutput = text;
        this.line(`    … ${text}`);
      });
      task.on(ListrTaskEventType.MESSAGE, (message: Partial<ListrTaskMessage>) => {
        const title = startTitle || task.title || '';
        if (message.error) this.line(`✖ ${title}: ${message.error}`);
        else if (message.skip) this.line(`↓ ${message.skip.startsWith(title) ? message.skip : `${title}: ${message.skip}`}`);
      });
    }
  }
}
