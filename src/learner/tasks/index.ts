import { addTask, linearTask, mulTask } from './arithmetic.js';
import { countTask } from './count.js';
import { reverseTask } from './reverse.js';
import { TaskError, type Task, type TaskInfo } from './types.js';

export { TEST_FRACTION, exactMatch, splitOf } from './define-task.js';
export {
  TaskError,
  type Example,
  type GenerateOptions,
  type Split,
  type Task,
  type TaskInfo,
} from './types.js';

const TASKS: ReadonlyMap<string, Task> = new Map(
  [addTask, mulTask, linearTask, countTask, reverseTask].map((t) => [t.name, t]),
);

export function getTask(name: string): Task {
  const task = TASKS.get(name);
  if (!task) {
    throw new TaskError('task', `unknown task '${name}'; built-in tasks: ${[...TASKS.keys()].join(', ')}`);
  }
  return task;
}

export function listTasks(): TaskInfo[] {
  return [...TASKS.values()].map(({ name, description, maxDifficulty, example }) => ({
    name,
    description,
    maxDifficulty,
    example,
  }));
}
