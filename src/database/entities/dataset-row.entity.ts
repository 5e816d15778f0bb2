import { Column, Entity, JoinColumn, ManyToOne, PrimaryColumn } from 'typeorm';
import type { JsonObject } from './json.js';
import { Dataset } from './dataset.entity.js';

@Entity('dataset_rows')
export class DatasetRow {
  @PrimaryColumn('uuid')
  dataset_id: string;

  /** 0-based line order among the valid rows, so a dataset reads back in upload order. */
  @PrimaryColumn('int')
  idx: number;

  @ManyToOne(() => Dataset, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'dataset_id' })
  dataset?: Dataset;

  @Column('text')
  problem: string;

  @Column('text')
  answer: string;

  /** Every field besides problem/answer, as uploaded (completion, id, metadata ...). */
  @Column('jsonb', { nullable: true })
  extra: JsonObject | null;
}
