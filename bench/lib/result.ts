/** One row of bench/results.json. */
export interface Result {
  name: string;
  value: number;
  unit: string;
  /** Context for a human reading the table (not compared across commits). */
  note?: string;
}
