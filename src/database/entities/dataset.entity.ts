import {
  Column,
  CreateDateColumn,
  Entity,
  Index,
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
} from 'typeorm';
import { Project } from './project.entity.js';

@Entity('datasets')
export class Dataset {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Index()
  @Column('uuid')
  project_id: string;

  @ManyToOne(() => Project, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'project_id' })
  project?: Project;

  @Column('text')
  name: string;

  @Column('int')
  row_count: number;

  @Column('bigint')
  size_bytes: number;

  /** sha256 of the uploaded bytes, so a user can check what the service holds. */
  @Column('char', { length: 64 })
  sha256: string;

  /** Names of the optional fields seen beyond problem/answer (e.g. "completion"). */
  @Column('jsonb', { default: () => "'[]'" })
  extra_fields: string[];

  @CreateDateColumn({ type: 'timestamptz' })
  created_at: Date;
}
